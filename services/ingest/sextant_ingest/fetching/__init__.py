"""The unified fetcher: every provider behind one ``fetch`` with routing, fallback, rate limits,
retries, coalescing, hot/cold caches, an audit trail and a DLQ for rejected records.

    async with UnifiedFetcher(FetchSettings()) as fetcher:
        result = await fetcher.fetch("bars", {"symbol": "AAPL"}, asset_class="equity")
"""

from sextant_ingest.fetching.errors import FetchFailed, InvalidParams, NoProvider, RateWaitTooLong
from sextant_ingest.fetching.publish import EventSink, KafkaEventPublisher
from sextant_ingest.fetching.registry import ProviderRegistry
from sextant_ingest.fetching.settings import FetchSettings
from sextant_ingest.fetching.unified import (
    FetchResult,
    ProviderStatus,
    UnifiedFetcher,
)

__all__ = [
    "EventSink",
    "FetchFailed",
    "FetchResult",
    "FetchSettings",
    "InvalidParams",
    "KafkaEventPublisher",
    "NoProvider",
    "ProviderRegistry",
    "ProviderStatus",
    "RateWaitTooLong",
    "UnifiedFetcher",
]
