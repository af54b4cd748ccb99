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
    lake_flush_rows: int = 20_000
    """Flush buffered bars to Parquet once this many are waiting..."""
    lake_flush_seconds: float = 0.5
    """...or once the oldest waiting bar is this old (seconds)."""

    @property
    def lake_dir(self) -> Path:
        """Root of the Parquet lake."""
        return self.data_dir / "lake"
