"""A provider's bars fetcher as a :class:`BarProvider`, so the worker and the backfill take bars
from polygon or tiingo (or any provider module with a fetcher of kind bars) the way they take
them from the simulated market.

Every request goes through the unified fetcher (keys, rate limits, retries, caches, audit,
dead letters), asking that provider only (no fallback). The params are the bar fetchers'
convention: ``instrument_id``, ``interval``, ``start``, ``end`` and ``asset_class``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from sextant_common.events import AssetClass, Bar
from sextant_common.instruments import Instrument
from sextant_ingest.market.universe import default_instruments
from sextant_ingest.providers.base import BarProvider, BarQuery, UnknownInstrument
from sextant_ingest.providers.errors import NoData, NotFound, RateLimited
from sextant_ingest.providers.fetcher import DataKind

if TYPE_CHECKING:
    from sextant_ingest.fetching.registry import ProviderEntry
    from sextant_ingest.fetching.unified import UnifiedFetcher

log = logging.getLogger(__name__)

RATE_WAITS = 5
"""Times one instrument waits out the provider's rate limit before its error is raised."""


class FetchedBars(BarProvider):
    """History of ``entry``'s bars through ``fetcher``, for the instruments of ``universe``
    (default: those of the default universe whose asset class the provider covers).

    Without a live feed (``has_live`` is False). Serving everything (``BarQuery.instruments``
    None), an instrument the provider does not know is logged and skipped; asked by id, it
    raises :class:`UnknownInstrument`. A range without bars is empty, never an error.
    """

    def __init__(
        self,
        fetcher: UnifiedFetcher,
        entry: ProviderEntry,
        universe: Sequence[Instrument] | None = None,
    ) -> None:
        self.name = entry.name
        self._fetcher = fetcher
        self._datasets = [f for f in entry.fetchers if f.kind is DataKind.BARS]
        if universe is None:
            universe = [i for i in default_instruments() if entry.serves(i.asset_class)]
        self._instruments = {i.instrument_id: i for i in universe}

    def instruments(self) -> list[Instrument]:
        """The universe it was built with."""
        return list(self._instruments.values())

    async def history(self, query: BarQuery) -> AsyncIterator[Bar]:
        """Bars of ``query``, instrument by instrument (one fetch each, all pages)."""
        every = query.instruments is None
        for instrument_id in query.instruments or tuple(self._instruments):
            known = self._instruments.get(instrument_id)
            try:
                bars = await self._fetch(query, instrument_id, known.asset_class if known else None)
            except NotFound as exc:
                if not every:
                    raise UnknownInstrument(str(exc)) from exc
                log.warning("%s does not serve %s; skipped: %s", self.name, instrument_id, exc)
                continue
            for bar in bars:
                yield bar

    async def _fetch(
        self, query: BarQuery, instrument_id: str, asset_class: AssetClass | None
    ) -> list[Bar]:
        params: dict[str, Any] = {
            "instrument_id": instrument_id,
            "interval": query.interval.value,
            "start": query.start,
            "end": query.end,
        }
        if asset_class is not None:
            params["asset_class"] = asset_class.value
        for waits in range(RATE_WAITS + 1):
            try:
                result = await self._fetcher.fetch(
                    DataKind.BARS, params, provider=self.name, dataset=self._dataset_for(params)
                )
            except NoData:
                return []
            except RateLimited as exc:  # a bar source paces itself to the provider's limit
                if waits == RATE_WAITS or exc.retry_after is None:
                    raise
                await asyncio.sleep(exc.retry_after)
                continue
            return [r for r in result.records if isinstance(r, Bar)]
        raise AssertionError("unreachable: the loop returns or raises on its last wait")

    def _dataset_for(self, params: dict[str, Any]) -> str | None:
        """The first bars dataset whose params validate (tiingo: daily vs intraday), else None
        (the fetch then reports the first dataset's error)."""
        for fetcher in self._datasets:
            try:
                fetcher.transform_query(params)
            except ValueError:
                continue
            return fetcher.dataset
        return None
