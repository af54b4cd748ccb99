"""The Parquet lake: layout, idempotent writes, point-in-time reads."""
