"""The file source: the event-log template (step 1 of the users' journey) and loading a filled
template, a CSV or an XES file into core.event_log and core.cases."""
