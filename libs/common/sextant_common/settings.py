"""Settings shared by every Sextant process, read from `SEXTANT_*` environment variables.

Each service subclasses :class:`CommonSettings` with its own fields; nothing else in the code base
reads ``os.environ``. Every variable is listed in ``.env.example`` at the repository root.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    """Variables every service understands."""

    model_config = SettingsConfigDict(env_prefix="SEXTANT_", env_file=".env", extra="ignore")

    kafka_bootstrap: str | None = None
    """Kafka bootstrap servers (``host:port[,...]``). Unset: `make run` starts tansu locally."""
    log_level: str = "INFO"
    log_json: bool = True
    data_dir: Path = Path("var")
    """Root of local state: the Parquet lake, broker logs, audit files."""
    broker_connect_timeout_s: float = 15.0
    """How long a service waits for the broker at start before exiting with an error."""
    bars_partitions: int = 6
    """Partitions of ``md.bars.v1`` when Sextant creates the topic itself."""

    def require_bootstrap(self) -> str:
        """Return the bootstrap address or fail with the variable to set."""
        if not self.kafka_bootstrap:
            raise RuntimeError(
                "SEXTANT_KAFKA_BOOTSTRAP is not set: point it at a Kafka broker "
                "(make run starts a local one)"
            )
        return self.kafka_bootstrap
