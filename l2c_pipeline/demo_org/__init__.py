"""The built-in demo org: a generator of realistic Sales Cloud orgs with planted truths, and an
HTTPS server that speaks the Salesforce REST API subset the pipeline needs."""
