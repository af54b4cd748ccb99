"""Reading price history from the datasets service (the quant service owns no market data)."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

import httpx
import orjson
import pandas as pd
import pyarrow as pa

from sextant_common.versioned_cache import VersionedCache
from sextant_quant.screen.panel import Panel

OHLCV = ("open", "high", "low", "close", "volume")
MAX_CONCURRENT_FETCHES = 8
"""Requests one :meth:`MarketData.closes_frame` call has in flight at once, so a 1,000-symbol
sweep neither floods the datasets service nor starves the quant API's own queries."""
INSTRUMENTS_TTL_S = 5.0
FRAMES_CACHED = 256
"""Parsed histories kept with their ETag: asking again costs a ``304 Not Modified`` round trip
instead of re-reading and re-parsing the bars (~1 MB of JSON for 20 years of daily SPX)."""

T = TypeVar("T")


class MarketDataError(LookupError):
    """The datasets service could not provide the asked history (unknown symbol, bad range,
    no answer)."""

    def __init__(self, status: int, detail: object) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


async def gather_bounded(
    calls: Iterable[Callable[[], Awaitable[T]]], limit: int = MAX_CONCURRENT_FETCHES
) -> list[T]:
    """Await every call, at most ``limit`` at a time; results in the calls' order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with semaphore:
            return await call()

    return list(await asyncio.gather(*(one(call) for call in calls)))


def _day(moment: pd.Timestamp) -> str:
    return moment.strftime("%Y-%m-%d")


class MarketData:
    """Daily closes by symbol from ``GET /v1/bars`` of the datasets service."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self._instruments: tuple[float, dict[str, dict[str, Any]]] | None = None
        self._frames = VersionedCache[tuple[str, pd.DataFrame]](
            max_entries=FRAMES_CACHED, name="quant_frames"
        )
        self._panel: tuple[str, Panel] | None = None
        self._panel_lock = asyncio.Lock()  # concurrent screens parse a changed panel once

    async def _get(
        self,
        path: str,
        params: dict[str, str],
        what: str,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """GET from the datasets service; no answer becomes a :class:`MarketDataError` saying
        which service, how long and for what (an httpx timeout's own text is empty)."""
        try:
            return await self._client.get(path, params=params, headers=headers)
        except httpx.TimeoutException as exc:
            timeout = self._client.timeout
            limit = timeout.connect if isinstance(exc, httpx.ConnectTimeout) else timeout.read
            raise MarketDataError(
                504,
                f"datasets service did not answer within {limit} s for {what} "
                f"({exc.__class__.__name__})",
            ) from None
        except httpx.HTTPError as exc:
            reason = str(exc).strip() or "no detail"
            raise MarketDataError(
                502,
                f"datasets service unreachable for {what}: {exc.__class__.__name__}: {reason}",
            ) from None

    async def instruments(self) -> dict[str, dict[str, Any]]:
        """Every instrument the datasets service holds, by id (its ``/v1/instruments`` entries;
        the first entry of an id wins), cached for a few seconds."""
        now = time.monotonic()
        if self._instruments is not None and now - self._instruments[0] < INSTRUMENTS_TTL_S:
            return self._instruments[1]
        response = await self._get("/v1/instruments", {}, "the instrument list")
        if response.status_code != 200:
            raise MarketDataError(response.status_code, response.text[:300])
        by_id: dict[str, dict[str, Any]] = {}
        for entry in response.json()["instruments"]:
            by_id.setdefault(entry["instrument_id"], entry)
        self._instruments = (now, by_id)
        return by_id

    async def missing_daily(self, symbols: Iterable[str]) -> list[str]:
        """The ``symbols`` (in order, once each) with no daily bars in the datasets service."""
        known = await self.instruments()
        return [
            s
            for s in dict.fromkeys(symbols)
            if s not in known or "1d" not in known[s].get("intervals", ())
        ]

    async def closes(
        self, symbol: str, start: str | None = None, end: str | None = None
    ) -> pd.Series:
        """Daily closing prices of ``symbol`` indexed by date (naive, UTC), oldest first.

        Raises :class:`MarketDataError` with the datasets service's status and detail.
        """
        close: pd.Series = (await self.ohlcv(symbol, start, end))["close"].rename(symbol)
        return close

    async def closes_frame(
        self, symbols: list[str], start: str | None = None, end: str | None = None
    ) -> pd.DataFrame:
        """Daily closes of ``symbols`` on their common dates, one column per symbol (a repeated
        symbol is fetched once). At most :data:`MAX_CONCURRENT_FETCHES` requests at a time.

        Raises :class:`MarketDataError` (422) naming each symbol's first and last date when
        the histories have no date in common.
        """
        unique = list(dict.fromkeys(symbols))
        series = await gather_bounded(
            [functools.partial(self.closes, symbol, start, end) for symbol in unique]
        )
        empty = [str(s.name) for s in series if s.empty]
        if empty:
            asked = f"start={start or 'earliest'}, end={end or 'latest'}"
            raise MarketDataError(
                422, f"no daily bars in the asked range ({asked}) for: {', '.join(empty)}"
            )
        frame = pd.concat(series, axis=1, join="inner")
        if frame.empty:
            ranges = ", ".join(f"{s.name} {_day(s.index[0])}..{_day(s.index[-1])}" for s in series)
            raise MarketDataError(422, f"the symbols' histories have no date in common: {ranges}")
        frame.columns = unique
        return frame[symbols] if len(unique) != len(symbols) else frame

    async def ohlcv(
        self,
        symbol: str,
        start: str | None = None,
        end: str | None = None,
        *,
        interval: str = "1d",
    ) -> pd.DataFrame:
        """Open/high/low/close/volume of ``symbol`` (daily unless ``interval`` says otherwise)
        indexed by bar start (naive, UTC).

        Revalidated with the datasets service's ``ETag``: unchanged history is not re-read."""
        params = {"symbol": symbol, "interval": interval}
        params.update({k: v for k, v in (("start", start), ("end", end)) if v})
        key = (symbol, start, end, interval)
        cached = self._frames.get(key, None)
        revalidate = {"If-None-Match": cached[0]} if cached is not None else None
        response = await self._get("/v1/bars", params, f"symbol {symbol}", revalidate)
        if response.status_code == 304 and cached is not None:
            return cached[1].copy()
        if response.status_code != 200:
            raise MarketDataError(response.status_code, _detail(response))
        body = orjson.loads(response.content)
        bars = body["bars"]
        index = pd.DatetimeIndex([bar["ts_event"] for bar in bars], name="date").tz_localize(None)
        frame = pd.DataFrame(
            {field: [bar[field] for bar in bars] for field in OHLCV},
            index=index,
            dtype=float,
        )
        frame.attrs["source"] = body.get("source")  # "simulated" bars are synthetic
        if etag := response.headers.get("etag"):
            self._frames.put(key, None, (etag, frame.copy()))
        return frame

    async def daily_panel(self) -> Panel:
        """Every stored instrument's daily closes and volumes (``GET /v1/panel``: one Arrow
        stream, ~1.3M rows for 500 instruments x 10 years), as stored now.

        Kept parsed (and packed) with its ``ETag``: while no daily bar is stored, asking again
        costs one ``304 Not Modified`` round trip."""
        async with self._panel_lock:
            held = self._panel
            revalidate = {"If-None-Match": held[0]} if held is not None else None
            response = await self._get("/v1/panel", {}, "the daily panel", revalidate)
            if response.status_code == 304 and held is not None:
                return held[1]
            if response.status_code != 200:
                raise MarketDataError(response.status_code, _detail(response))
            panel = await asyncio.to_thread(_read_panel, response.content)
            if etag := response.headers.get("etag"):
                self._panel = (etag, panel)
            return panel

    async def option_chain(self, params: dict[str, str]) -> dict[str, Any]:
        """A stored option chain snapshot (``GET /v1/options/chain`` of the datasets service:
        ``underlying``, and optionally ``expiry``, ``as_of``, ``source``).

        Raises :class:`MarketDataError` with the datasets service's status and detail (404: no
        chain of the underlying, 422: the expiry is not listed)."""
        what = f"the option chain of {params.get('underlying')}"
        response = await self._get("/v1/options/chain", params, what)
        if response.status_code != 200:
            raise MarketDataError(response.status_code, _detail(response))
        chain: dict[str, Any] = orjson.loads(response.content)
        return chain


def _detail(response: httpx.Response) -> object:
    """The ``detail`` of an error answer of the datasets service, or its text when it is not
    JSON (e.g. a proxy's page)."""
    try:
        return response.json().get("detail", response.text)
    except ValueError:
        return response.text[:300] or f"HTTP {response.status_code}"


def _read_panel(stream: bytes) -> Panel:
    """Parse a ``GET /v1/panel`` Arrow stream and pack it (the first screen needs it)."""
    panel = Panel.from_arrow(pa.ipc.open_stream(stream).read_all())
    _ = panel.packed
    return panel
