"""Settings of the ingest service (``SEXTANT_*`` variables)."""

from __future__ import annotations

from sextant_common.events import Interval
from sextant_ingest.fetching.settings import FetchSettings


class IngestSettings(FetchSettings):
    """Which providers to run, how much history to backfill and how fast to stream live bars."""

    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8003
    ingest_providers: list[str] = ["shipped", "simulated"]
    """Providers whose history is backfilled at start, in this order."""
    ingest_history_days: int = 730
    """Days of daily history the simulated market backfills (ending yesterday)."""
    ingest_live: bool = True
    """After the backfill, stream live bars from the simulated market."""
    ingest_live_interval: Interval = Interval.S5
    """Length of live simulated bars. The embedded broker keeps every message in memory, so keep
    this modest: 5 s bars of ~50 instruments is ~36k messages (~90 MB in tansu) per hour."""
    sim_seed: int = 7
