"""Process-mining metrics: SQL for set-based figures, pm4py for models and conformance."""
