"""Process-mining metrics: SQL for set-based figures, pm4py for models and conformance."""

# The SQL models that need nothing but core.event_log: they run on any event log, e.g. a public
# one loaded for a parity check against pm4py.
EVENT_LOG_ONLY_MODELS = frozenset(
    {
        "mining.directly_follows",
        "mining.case_variants",
        "reports.process_map_edges",
        "reports.process_map_nodes",
        "reports.variants",
    }
)
