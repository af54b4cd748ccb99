"""Settings of the gateway (``SEXTANT_*`` variables)."""

from __future__ import annotations

from pathlib import Path

from sextant_common.settings import CommonSettings


class GatewaySettings(CommonSettings):
    """Where the gateway listens, which services it calls, how it treats WebSocket clients."""

    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8000
    datasets_url: str = "http://127.0.0.1:8001"
    quant_url: str = "http://127.0.0.1:8002"
    ingest_url: str = "http://127.0.0.1:8003"
    web_dist: Path = Path(__file__).resolve().parents[3] / "web" / "dist"
    """The built web terminal (``make setup`` builds it)."""
    ws_queue_size: int = 256
    """Messages a WebSocket client may fall behind before it is disconnected (code 1013)."""
    ws_max_symbols: int = 500
    latest_bars_ttl_seconds: float = 1.0
    """How long a bar answer without ``as_of`` is reused (0: always ask the datasets service)."""
    live_window_seconds: float = 300.0
    """Bars known longer ago than this are history being backfilled, not live: not fanned out."""
