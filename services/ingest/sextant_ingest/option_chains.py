"""Simulated option chains on ``md.options.v1``: one snapshot per simulated equity and index
when the service starts, then one every ``SEXTANT_INGEST_OPTION_CHAINS_PERIOD_S`` seconds.

Each snapshot goes through the unified fetcher like ``POST /v1/fetch`` with ``{"kind":
"options", "provider": "simulated", "params": {"underlying": ...}}`` (audited, rejects
dead-lettered) and is published keyed by its underlying. A real provider's chain (Polygon) is
fetched on demand through that same route; nothing polls a paid API on a timer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from prometheus_client import Counter

from sextant_ingest.fetching import UnifiedFetcher
from sextant_ingest.providers.errors import ProviderError
from sextant_ingest.providers.fetcher import DataKind
from sextant_ingest.providers.simulated import OPTIONABLE

log = logging.getLogger(__name__)

QUOTES_PUBLISHED = Counter(
    "sextant_ingest_option_quotes_published_total", "Option quotes published", ["source"]
)
SIMULATED = "simulated"


def simulated_underlyings(fetcher: UnifiedFetcher) -> list[str]:
    """The simulated market's instruments that have option chains (equities and indices)."""
    market = fetcher.bar_provider(SIMULATED)
    return [i.instrument_id for i in market.instruments() if i.asset_class in OPTIONABLE]


async def publish_chains(fetcher: UnifiedFetcher, underlyings: Sequence[str]) -> int:
    """Fetch and publish one simulated snapshot of each underlying; return the quotes sent.

    An underlying that fails (no price yet, say) is logged and skipped."""
    sent = 0
    for underlying in underlyings:
        try:
            result = await fetcher.fetch(
                DataKind.OPTIONS, {"underlying": underlying}, provider=SIMULATED
            )
        except (ProviderError, ValueError) as exc:
            log.warning("no simulated option chain of %s: %s", underlying, exc)
            continue
        sent += await fetcher.publish(result.records)
        QUOTES_PUBLISHED.labels(SIMULATED).inc(len(result.records))
    return sent


async def run_chain_feed(
    fetcher: UnifiedFetcher, underlyings: Sequence[str], period_s: float
) -> None:
    """:func:`publish_chains` now and every ``period_s`` seconds, until cancelled. A round that
    fails (the broker unreachable, say) is logged and the next one tried on schedule."""
    while True:
        try:
            sent = await publish_chains(fetcher, underlyings)
        except Exception:
            log.exception("simulated option chains not published; next try in %.0f s", period_s)
        else:
            log.info(
                "published %d simulated option quotes of %d underlyings", sent, len(underlyings)
            )
        await asyncio.sleep(period_s)
