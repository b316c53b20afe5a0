"""Watching the pipeline's runs: alerts that reach people (alerts.py) and the Dagster sensors
that send them (sensors.py). Nothing here reads Salesforce or the demo org."""
