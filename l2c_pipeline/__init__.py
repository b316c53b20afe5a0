"""l2c_pipeline: Lead-to-Cash process mining for Salesforce."""

__version__ = "0.1.0"
