"""Storage: schema, engine, queries and migrations."""
