"""Settings of the gateway (``SEXTANT_*`` variables)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

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
    auth_database_url: SecretStr | None = None
    """Users, refresh tokens and signing keys: a SQLAlchemy URL such as
    ``postgresql://user:pass@host/db`` (psycopg); unset: SQLite at ``<data_dir>/auth.db``."""
    auth_access_ttl_seconds: int = Field(900, ge=30, le=86_400)
    """Lifetime of an access token (JWT), seconds."""
    auth_refresh_ttl_seconds: int = Field(14 * 86_400, ge=60, le=365 * 86_400)
    """Lifetime of a refresh token, seconds; each use spends it and issues a new one."""
    auth_issuer: str = "sextant"
    auth_audience: str = "sextant-api"
    metrics_token: SecretStr | None = None
    """Bearer credential Prometheus presents to the gateway's ``/metrics`` (an admin's access
    token works too); unset: only admins may read it."""
    max_body_bytes: int = Field(1_048_576, ge=1_024)
    """Largest request body the gateway accepts (413 beyond), bytes."""
