"""DuckDB: schemas, sync state, single-writer access, publishing the analytics file."""
