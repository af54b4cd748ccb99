"""The ``bars`` dataset of a provider that makes its bars itself (a module's ``BARS`` class).

The registry derives one :class:`HistoryFetcher` subclass per such module, so the simulated
market or the shipped indices answer ``POST /v1/fetch`` (``{"kind": "bars", "provider":
"simulated", "params": {...}}``) like any HTTP provider, with the same params as the other bar
fetchers: ``instrument_id``, ``interval`` (default ``1d``), ``start``/``end`` (``[start, end)``,
aware datetimes or dates) and an optional ``asset_class`` (routing only). The bars keep the
provider's ``source`` (``simulated`` stays labeled simulated).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, model_validator

from sextant_common.events import AssetClass, Bar, Interval
from sextant_common.timeparse import UtcBound, UtcEndBound
from sextant_ingest.providers.base import BarProvider, BarQuery, UnknownInstrument
from sextant_ingest.providers.errors import NoData, NotFound
from sextant_ingest.providers.fetcher import DataKind, Fetcher, ProviderInfo, Transformed
from sextant_ingest.providers.http import ProviderHttp

DATASET = "bars"


class HistoryParams(BaseModel):
    """Bars of one instrument over ``[start, end)``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument_id: str
    interval: Interval = Interval.D1
    start: UtcBound
    end: UtcEndBound
    asset_class: AssetClass | None = None

    @model_validator(mode="after")
    def _check(self) -> HistoryParams:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class HistoryFetcher(Fetcher[HistoryParams, Bar]):
    """A :class:`BarProvider`'s ``history`` as a fetcher. Built without ``bars`` it only
    validates (the registry's routing instance); the unified fetcher builds it with the
    provider's instance."""

    kind = DataKind.BARS
    dataset = DATASET
    bar_class: ClassVar[type[BarProvider]]

    def __init__(self, bars: BarProvider | None = None) -> None:
        self._bars = bars

    @classmethod
    def of(cls, info: ProviderInfo, bar_class: type[BarProvider]) -> type[HistoryFetcher]:
        """The fetcher class of provider ``info`` whose bars ``bar_class`` makes."""
        name = f"{bar_class.__name__}History"
        attributes = {"provider": info, "bar_class": bar_class, "__module__": __name__}
        return type(name, (cls,), attributes)

    def transform_query(self, params: Mapping[str, Any]) -> HistoryParams:
        """Validate ``params`` (see :class:`HistoryParams`) and the interval the provider has."""
        query = HistoryParams.model_validate(dict(params))
        if query.interval not in self.bar_class.intervals:
            served = sorted(i.value for i in self.bar_class.intervals)
            raise ValueError(
                f"interval: {self.provider.name} serves {served}, not {query.interval.value}"
            )
        return query

    async def aextract_data(self, query: HistoryParams, http: ProviderHttp) -> list[Bar]:
        """The provider's bars (no HTTP: ``http`` is unused). NotFound for an instrument it
        does not serve, NoData for an empty range."""
        if self._bars is None:
            raise RuntimeError(f"{type(self).__name__} was built without its bar provider")
        bar_query = BarQuery(query.interval, query.start, query.end, (query.instrument_id,))
        try:
            bars = [bar async for bar in self._bars.history(bar_query)]
        except UnknownInstrument as exc:
            raise NotFound(self.provider.name, str(exc)) from None
        if not bars:
            raise NoData(
                self.provider.name,
                f"no {query.interval.value} bars for {query.instrument_id} "
                f"in [{query.start.isoformat()}, {query.end.isoformat()})",
            )
        return bars

    def transform_data(self, query: HistoryParams, raw: list[Bar]) -> Transformed[Bar]:
        """The bars as they are: the provider built them as standard bars already."""
        return Transformed(raw)
