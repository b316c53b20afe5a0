"""Connecting to Salesforce: authentication, TLS trust, retries and API limits."""
