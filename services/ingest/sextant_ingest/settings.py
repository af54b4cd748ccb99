"""Settings of the ingest service (``SEXTANT_*`` variables)."""

from __future__ import annotations

from sextant_common.events import Interval
from sextant_ingest.fetching.settings import FetchSettings


class IngestSettings(FetchSettings):
    """Which providers to run, how much history to backfill and how fast to stream live bars."""

    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8003
    ingest_providers: list[str] = ["shipped", "simulated"]
    """Providers whose history is backfilled at start, in this order: any provider of the
    registry with bars (loaded even when ``fetch_providers`` does not name it)."""
    ingest_history_days: int = 730
    """Days of daily history backfilled (ending yesterday) from a provider that does not backfill
    its full history (every one but ``shipped``)."""
    ingest_live: bool = True
    """After the backfill, stream live bars from ``ingest_live_provider``."""
    ingest_live_provider: str = "simulated"
    """The provider whose live feed is streamed (one whose ``BARS`` has a live stream)."""
    ingest_live_interval: Interval = Interval.S5
    """Length of live simulated bars. The embedded broker keeps every message in memory, so keep
    this modest: 5 s bars of ~50 instruments is ~36k messages (~90 MB in tansu) per hour."""

    ingest_option_chains_period_s: float = 1800.0
    """Publish a simulated option chain snapshot of every simulated equity and index at start
    and then every this many seconds (0: never): ~12k quotes of 42 underlyings, ~5 MB on the bus."""

    def provider_modules(self) -> list[str]:
        """Every provider module to load: ``fetch_providers``, then the worker's providers
        they do not already name (so one registry serves the fetcher and the worker)."""
        live = [self.ingest_live_provider] if self.ingest_live else []
        return list(dict.fromkeys([*self.fetch_providers, *self.ingest_providers, *live]))
