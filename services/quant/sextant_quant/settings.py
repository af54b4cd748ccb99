"""Settings of the quant service (``SEXTANT_*`` variables)."""

from __future__ import annotations

from sextant_common.settings import CommonSettings


class QuantSettings(CommonSettings):
    """Where the quant API listens and where it reads market data."""

    quant_host: str = "127.0.0.1"
    quant_port: int = 8002
    datasets_url: str = "http://127.0.0.1:8001"
    ray_address: str | None = None
    """A Ray cluster for parameter sweeps (``host:port``); unset: sweeps run in process."""
    quant_jobs_group: str = "quant-jobs"
    """Consumer group of the job runner; replicas share the job requests."""
