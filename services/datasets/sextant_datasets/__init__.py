"""Sextant datasets: the point-in-time Parquet lake, fed from the bus, queried with DuckDB."""
