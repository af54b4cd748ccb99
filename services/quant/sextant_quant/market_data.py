"""Reading price history from the datasets service (the quant service owns no market data)."""

from __future__ import annotations

import asyncio

import httpx
import pandas as pd

OHLCV = ("open", "high", "low", "close", "volume")


class MarketDataError(LookupError):
    """The datasets service could not provide the asked history (unknown symbol, bad range)."""

    def __init__(self, status: int, detail: object) -> None:
        super().__init__(str(detail))
        self.status = status
        self.detail = detail


class MarketData:
    """Daily closes by symbol from ``GET /v1/bars`` of the datasets service."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

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
        """Daily closes of ``symbols`` on their common dates, one column per symbol."""
        series = await asyncio.gather(*(self.closes(symbol, start, end) for symbol in symbols))
        frame = pd.concat(series, axis=1, join="inner")
        frame.columns = symbols
        return frame

    async def ohlcv(
        self, symbol: str, start: str | None = None, end: str | None = None
    ) -> pd.DataFrame:
        """Daily open/high/low/close/volume of ``symbol`` indexed by date (naive, UTC)."""
        params = {"symbol": symbol, "interval": "1d"}
        params.update({k: v for k, v in (("start", start), ("end", end)) if v})
        response = await self._client.get("/v1/bars", params=params)
        body = response.json()
        if response.status_code != 200:
            raise MarketDataError(response.status_code, body.get("detail", body))
        bars = body["bars"]
        index = pd.DatetimeIndex([bar["ts_event"] for bar in bars], name="date").tz_localize(None)
        return pd.DataFrame(
            {field: [bar[field] for bar in bars] for field in OHLCV},
            index=index,
            dtype=float,
        )
