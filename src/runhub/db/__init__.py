"""Storage: the schema, the engine and every SQL statement runhub runs."""
