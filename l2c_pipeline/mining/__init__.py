"""Process-mining metrics: SQL for set-based figures, pm4py for models and conformance."""

# The steps that need nothing but core.event_log (and the target process file): they run on any
# event log, e.g. a public one loaded for a parity check against pm4py.
EVENT_LOG_ONLY_MODELS = frozenset(
    {
        "mining.reference_path",
        "mining.process_rules",
        "mining.compliance_allowlist",
        "mining.business_hours",
        "mining.business_holidays",
        "mining.case_calendars",
        "mining.business_holiday_dates",
        "mining.business_calendar",
        "mining.business_clock_days",
        "mining.case_conformance",
        "mining.directly_follows",
        "mining.activity_codes",
        "mining.case_variants",
        "mining.variant_paths",
        "reports.process_map_edges",
        "reports.process_map_nodes",
        "reports.variants",
    }
)
