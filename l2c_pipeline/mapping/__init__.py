"""The mapping: where one org keeps what the event log needs (objects, fields, history, values)."""
