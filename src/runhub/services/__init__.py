"""Rules of the product, as plain functions over a database connection."""
