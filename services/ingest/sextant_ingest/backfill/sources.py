"""Where backfilled records come from, and how one key (a symbol or a macro series) is
published: every source returns only after the broker acknowledged all of the key's records.

* :class:`SimulatedSource`: the offline ``simulated`` market (``source="simulated"``),
  encoded straight from the model's arrays (:mod:`.encode`) and sent in batches by the shared
  producer (:meth:`~sextant_common.producer.EventProducer.publish_encoded`), keyed and
  partitioned like every bar.
* :class:`HistorySource`: any other provider of the registry with bars (``shipped``,
  ``polygon``, ``tiingo``, a module of your own), from its ``BarProvider``
  (``UnifiedFetcher.bar_provider``), published through an :class:`EventSink`.
* :class:`FetcherSource`: real providers behind the :class:`UnifiedFetcher` (keys from the
  environment or the secrets file), routed by ``SEXTANT_ROUTES`` and published with
  ``fetcher.publish``; keys ``macro:<id>`` fetch FRED series.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sextant_common.events import AssetClass, Bar, Event, Interval
from sextant_common.producer import BATCH_RECORDS, EventProducer
from sextant_ingest.backfill.encode import encode_page
from sextant_ingest.fetching.publish import EventSink
from sextant_ingest.providers.base import BarProvider, BarQuery
from sextant_ingest.providers.simulated import SimulatedProvider
from sextant_ingest.publisher import BARS_PUBLISHED

MACRO_PREFIX = "macro:"
"""Keys of macro series: ``macro:GDPC1``."""


class BackfillSource(Protocol):
    """Publishes everything of one key over the backfill range."""

    name: str
    """Provider name, part of the checkpoint's job id."""

    async def publish(self, key: str) -> int:
        """Publish the records of ``key``; return how many once the broker acked them all."""


class SimulatedSource:
    """Daily bars of the simulated market for ``[start, end)``, one instrument per key.

    The bars are the provider's (same model, same bytes as ``history`` + ``Bar.to_bytes``);
    only the Bar objects in between are skipped (see :mod:`.encode`).
    """

    name = "simulated"

    def __init__(
        self,
        provider: SimulatedProvider,
        producer: EventProducer,
        start: datetime,
        end: datetime,
        interval: Interval = Interval.D1,
    ) -> None:
        self._provider = provider
        self._producer = producer
        self._start = start
        self._end = end
        self._interval = interval

    async def publish(self, key: str) -> int:
        if key.startswith(MACRO_PREFIX):
            raise ValueError(f"{key}: the simulated provider has no macro series; use fetcher")
        plan = self._provider.transform_query(
            BarQuery(self._interval, self._start, self._end, (key,))
        )
        values = [
            value
            for instrument in plan.instruments
            async for raw in self._provider.aextract_data(plan, instrument)
            for value in encode_page(plan, raw, self.name)
        ]
        # Every batch acknowledged before the key counts as done.
        count = await self._producer.publish_encoded(Bar, key.encode(), values)
        BARS_PUBLISHED.labels(self.name).inc(count)
        return count


class HistorySource:
    """Bars of ``provider`` for ``[start, end)``, one instrument per key, published through
    ``sink`` (Kafka's partitioner keys them as the ingest ``BarPublisher`` does) in batches of
    ``batch`` bars, each acknowledged before the next."""

    def __init__(
        self,
        provider: BarProvider,
        sink: EventSink,
        start: datetime,
        end: datetime,
        interval: Interval = Interval.D1,
        batch: int = BATCH_RECORDS,
    ) -> None:
        self.name = provider.name
        self._provider = provider
        self._sink = sink
        self._query = BarQuery(interval, start, end)
        self._batch = batch

    async def publish(self, key: str) -> int:
        if key.startswith(MACRO_PREFIX):
            raise ValueError(f"{key}: the {self.name} provider has no macro series; use fetcher")
        query = BarQuery(self._query.interval, self._query.start, self._query.end, (key,))
        pending: list[Bar] = []
        count = 0
        async for bar in self._provider.history(query):
            pending.append(bar)
            if len(pending) >= self._batch:
                count += await self._sink.publish(pending)
                pending = []
        if pending:
            count += await self._sink.publish(pending)
        return count


class Fetcher(Protocol):
    """The part of :class:`UnifiedFetcher` a backfill uses (tests pass a fake)."""

    async def fetch(
        self,
        kind: Any,
        params: Mapping[str, Any],
        *,
        asset_class: Any = None,
        provider: str | None = None,
    ) -> Any:
        """A ``FetchResult`` (``.records``) for ``kind`` and ``params``."""

    async def publish(self, records: Sequence[Event]) -> int:
        """Send ``records`` to their topics and wait for the acks."""


class FetcherSource:
    """Bars (and FRED macro series) from real providers through the unified fetcher.

    ``asset_classes`` maps a ticker to its asset class (routing: ``bars:<asset class>``);
    unknown tickers are equities.
    """

    name = "fetcher"

    def __init__(
        self,
        fetcher: Fetcher,
        start: datetime,
        end: datetime,
        asset_classes: Mapping[str, AssetClass] | None = None,
        interval: Interval = Interval.D1,
    ) -> None:
        self._fetcher = fetcher
        self._start = start
        self._end = end
        self._asset_classes = dict(asset_classes or {})
        self._interval = interval

    async def publish(self, key: str) -> int:
        if key.startswith(MACRO_PREFIX):
            series = key.removeprefix(MACRO_PREFIX)
            params = {
                "series_id": series,
                "observation_start": self._start.date(),
                "observation_end": self._end.date(),
            }
            # FRED ids mean nothing to World Bank or IMF, so no fallback route here.
            result = await self._fetcher.fetch("macro", params, provider="fred")
        else:
            params = {
                "instrument_id": key,
                "interval": self._interval.value,
                "start": self._start,
                "end": self._end,
            }
            asset = self._asset_classes.get(key, AssetClass.EQUITY)
            result = await self._fetcher.fetch("bars", params, asset_class=asset.value)
        records = list(result.records)
        if not records:
            return 0
        return await self._fetcher.publish(records)
