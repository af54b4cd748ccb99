"""Settings of the datasets service (``SEXTANT_*`` variables)."""

from __future__ import annotations

from pathlib import Path

from sextant_common.settings import CommonSettings


class DatasetsSettings(CommonSettings):
    """Where the lake lives, how the bar consumer batches, where the API listens."""

    datasets_host: str = "127.0.0.1"
    datasets_port: int = 8001
    datasets_group: str = "datasets"
    """Consumer group of the lake writer; replicas in one group split the partitions."""
    dlq_group: str | None = None
    """Consumer group keeping ``dlq.v1``; unset: ``<datasets_group>.dlq``."""
    lake_flush_rows: int = 100_000
    """Flush buffered bars to Parquet once this many are waiting ..."""
    lake_flush_seconds: float = 0.5
    """... or, once the consumer has caught up, when the oldest is this old (seconds) ..."""
    lake_flush_max_seconds: float = 5.0
    """... and never let a bar wait longer than this, even while catching up on a backlog."""
    extra_sources: list[str] = []
    """Source names accepted besides ``sextant_common.sources.PROVIDER_SOURCES`` (JSON list),
    e.g. ``["test"]`` for a test suite's fixtures; bars from any other source are dead-lettered."""
    clock_skew_s: float = 300.0
    """How far ahead of this host's clock a producer's clock may run (seconds): a bar may start
    up to one bar length plus this after now, and be known up to this after now."""

    @property
    def lake_dir(self) -> Path:
        """Root of the Parquet lake."""
        return self.data_dir / "lake"

    @property
    def dead_letter_group(self) -> str:
        """Consumer group of the ``dlq.v1`` keeper (its own, so the DLQ never delays bars)."""
        return self.dlq_group or f"{self.datasets_group}.dlq"

    @property
    def dlq_path(self) -> Path:
        """SQLite file of the kept dead letters."""
        return self.data_dir / "dlq" / "dead_letters.sqlite3"
