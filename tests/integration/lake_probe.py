"""Reading a lake directory under test with DuckDB: total rows and distinct natural keys."""

from __future__ import annotations

from pathlib import Path

import duckdb


def lake_counts(lake_dir: Path) -> tuple[int, int]:
    """(rows, distinct natural keys) of every bars file under ``lake_dir``."""
    if not any(lake_dir.glob("bars/**/*.parquet")):
        return (0, 0)
    row = (
        duckdb.connect()
        .execute(
            f"""SELECT count(*),
                       count(DISTINCT (source, instrument_id, interval, ts_event, revision))
            FROM read_parquet('{lake_dir}/bars/**/*.parquet', hive_partitioning = false)"""
        )
        .fetchone()
    )
    assert row is not None
    return int(row[0]), int(row[1])
