"""Named queries and operations: the legacy platform's ``ExecuteQuery`` and
``ExecuteOperation`` names, defined in YAML and run against the store."""
