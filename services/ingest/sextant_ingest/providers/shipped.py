"""The ``shipped`` provider: real daily history that ships inside installed packages (offline).

Serves the S&P 500 (``SPX``) and the NASDAQ Composite (``COMP``) daily OHLCV, 1999-01-04 to
2018-12-31, from ``arch.data``. Daily bars start at 00:00 UTC of the session date. Their
knowledge time is the bar's end (start + 1 day): the moment a live feed would have delivered the
close, so point-in-time queries over the past see this history as it became known.

A provider module like any other (``PROVIDER``, ``FETCHERS``, ``BARS``): the worker backfills it,
``POST /v1/fetch`` serves it (``"provider": "shipped"``, dataset ``bars``).
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import pandas as pd

from sextant_common.events import AssetClass, Bar, Interval
from sextant_common.instruments import Instrument
from sextant_ingest.providers.base import BarProvider, BarQuery, UnknownInstrument
from sextant_ingest.providers.fetcher import DataKind, Fetcher, ProviderInfo, RateLimit

PROVIDER = ProviderInfo(
    name="shipped",
    base_url="",  # no network: the data ships inside the installed ``arch`` package
    kinds=frozenset({DataKind.BARS}),
    rate_limit=RateLimit(requests=1000, per_seconds=1.0),
    asset_classes=frozenset({AssetClass.INDEX}),
    docs_url="https://bashtage.github.io/arch/",
    fallback=False,  # two indices to 2018: asked for by name, never a stand-in
)


@dataclass(frozen=True)
class ShippedSeries:
    """An instrument and the ``arch.data`` module whose ``load()`` returns its daily OHLCV."""

    instrument: Instrument
    module: str


SHIPPED_SERIES: tuple[ShippedSeries, ...] = (
    ShippedSeries(
        Instrument(
            instrument_id="SPX",
            asset_class=AssetClass.INDEX,
            name="S&P 500 Index",
            calendar="XNYS",
        ),
        "arch.data.sp500",
    ),
    ShippedSeries(
        Instrument(
            instrument_id="COMP",
            asset_class=AssetClass.INDEX,
            name="NASDAQ Composite Index",
            calendar="XNAS",
        ),
        "arch.data.nasdaq",
    ),
)


@cache
def _load_frame(module: str) -> pd.DataFrame:
    frame: pd.DataFrame = importlib.import_module(module).load()
    return frame


class ShippedProvider(BarProvider):
    """Daily bars of real indices bundled with ``arch`` (no network, no key)."""

    name = PROVIDER.name
    full_history = True
    intervals = frozenset({Interval.D1})

    def __init__(self) -> None:
        self._series = {s.instrument.instrument_id: s for s in SHIPPED_SERIES}

    def instruments(self) -> Sequence[Instrument]:
        """SPX and COMP."""
        return [s.instrument for s in SHIPPED_SERIES]

    async def history(self, query: BarQuery) -> AsyncIterator[Bar]:
        """Daily bars in [start, end) for the asked (or all) shipped instruments."""
        if query.interval is not Interval.D1:
            raise ValueError(f"shipped history is daily only, not {query.interval.value}")
        wanted = query.instruments or tuple(self._series)
        for instrument_id in wanted:
            if instrument_id not in self._series:
                raise UnknownInstrument(f"shipped provider has no instrument {instrument_id!r}")
        for instrument_id in wanted:
            for bar in self._bars(self._series[instrument_id], query):
                yield bar

    def _bars(self, series: ShippedSeries, query: BarQuery) -> list[Bar]:
        frame = _load_frame(series.module)
        starts = frame.index.tz_localize(UTC)
        mask = (starts >= query.start) & (starts < query.end)
        day = Interval.D1.duration
        bars = []
        for start, row in zip(starts[mask], frame[mask].itertuples(), strict=True):
            begin = start.to_pydatetime()
            bars.append(
                Bar(
                    instrument_id=series.instrument.instrument_id,
                    asset_class=series.instrument.asset_class,
                    interval=Interval.D1,
                    ts_event=begin,
                    open=float(row.Open),
                    high=float(row.High),
                    low=float(row.Low),
                    close=float(row.Close),
                    volume=float(row.Volume),
                    source=self.name,
                    ts_known=min(begin + day, datetime.now(UTC)),
                )
            )
        return bars


BARS = ShippedProvider
FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = ()
"""None besides the ``bars`` dataset the registry derives from ``BARS``."""
