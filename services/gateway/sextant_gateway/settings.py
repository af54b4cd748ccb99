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
    ws_max_lag_seconds: float = 2.0
    """Longest a message may wait for a WebSocket client before it is disconnected (1013)."""
    ws_close_grace_seconds: float = 1.0
    """How long a dropped client has to complete the closing handshake before a reset."""
    ws_send_buffer_bytes: int = 65_536
    """Bytes in flight per WebSocket client: kernel send buffer and transport high water mark."""
    ws_ping_interval_seconds: float = 5.0
    """Keepalive ping period; a client that does not answer within the timeout is reset."""
    ws_ping_timeout_seconds: float = 5.0
    ws_max_symbols: int = 500
    ws_max_message_bytes: int = 65_536
    """Largest message a WebSocket client may send (a subscribe of 500 symbols is ~35 KB); a
    larger one closes the connection with code 1009."""
    cors_origins: list[str] = []
    """Browser origins besides the gateway's own allowed to call the API (CORS) and open the
    WebSocket, e.g. ``["https://research.example.com"]``. Empty: same origin only, no CORS."""
    latest_bars_ttl_seconds: float = 1.0
    """How long a bar answer without ``as_of`` is reused (0: always ask the datasets service)."""
    live_window_seconds: float = 300.0
    """Bars known longer ago than this are history being backfilled, not live: not fanned out."""
