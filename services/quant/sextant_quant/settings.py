"""Settings of the quant service (``SEXTANT_*`` variables)."""

from __future__ import annotations

from pydantic import SecretStr

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
    quant_job_queue_max: int = 16
    """Jobs that may wait to start; one more submit answers 429 with ``Retry-After``."""
    quant_job_inline_result_max_bytes: int = 256 * 1024
    """A job result larger than this (as JSON) is stored, and its event carries a reference."""
    quant_sweep_max_backtests: int = 600_000
    """Largest sweep accepted: (fast, slow) pairs x distinct symbols. 600,000 covers a full
    100 x 100 grid over the 52 simulated symbols and runs in ~12 s on one core for 2,520 bars."""
    quant_sweep_threads: int | None = None
    """Cores a sweep may use; unset: all but one, so the API keeps a core to answer on."""
    redis_url: SecretStr | None = None
    """Job state in Redis (``redis://host:port/db``), shared by every quant replica and kept
    across restarts; unset: one JSON file per job under ``<data_dir>/jobs/quant`` (one replica)."""
    quant_jobs_redis_prefix: str = "sextant:jobs:"
    """Prefix of the job keys in Redis, e.g. to share one Redis between two deployments."""
    quant_job_ttl_s: int = 7 * 86_400
    """How long Redis keeps a job (state and stored result) after its last update, in seconds."""
    quant_analytics_group: str = "quant-analytics"
    """Consumer group of the live analytics on ``md.bars.v1``; replicas share the instruments."""
    quant_analytics_benchmarks: dict[str, str] = {"*": "SPX", "simulated": "NDX"}
    """Beta benchmark by bar source (``"*"``: any other source). Simulated instruments are
    measured against the simulated Nasdaq-100, never against a real index."""
    quant_analytics_live_window_seconds: float = 300.0
    """Bars known longer ago than this are a backfill passing through: no live analytics."""
