"""MarketData under load and failure: bounded fetches, repeats fetched once, errors that say
what did not answer (a ``ConnectTimeout`` has no text of its own)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from sextant_quant.market_data import MAX_CONCURRENT_FETCHES, MarketData, MarketDataError


def bars_body(symbol: str, days: list[str]) -> dict[str, object]:
    bars = [
        {"ts_event": f"{d}T00:00:00Z", "open": 1, "high": 1, "low": 1, "close": 1.0, "volume": 1}
        for d in days
    ]
    return {"symbol": symbol, "bars": bars}


async def test_a_thousand_symbol_frame_keeps_at_most_eight_fetches_in_flight() -> None:
    in_flight = peak = 0
    asked: list[str] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.001)
        in_flight -= 1
        symbol = request.url.params["symbol"]
        asked.append(symbol)
        return httpx.Response(200, json=bars_body(symbol, ["2020-01-02", "2020-01-03"]))

    symbols = [f"S{i:03d}" for i in range(200)] * 5  # 1,000 with repeats
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url="http://datasets"
    ) as client:
        frame = await MarketData(client).closes_frame(symbols)
    assert peak == MAX_CONCURRENT_FETCHES == 8
    assert sorted(asked) == sorted(set(symbols))  # each symbol fetched once
    assert list(frame.columns) == symbols and len(frame) == 2


async def test_a_datasets_timeout_names_the_service_the_wait_and_the_symbol() -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("")  # what httpx raises: str() is ""

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(hang),
        base_url="http://datasets",
        timeout=httpx.Timeout(60.0, connect=2.0),
    ) as client:
        with pytest.raises(MarketDataError) as failed:
            await MarketData(client).closes("SPX")
    assert failed.value.status == 504
    assert str(failed.value) == (
        "datasets service did not answer within 2.0 s for symbol SPX (ConnectTimeout)"
    )


async def test_histories_without_common_dates_name_each_range() -> None:
    days = {"OLD": ["2001-01-02", "2001-01-03"], "NEW": ["2026-08-10", "2026-12-04"]}

    def answer(request: httpx.Request) -> httpx.Response:
        symbol = request.url.params["symbol"]
        return httpx.Response(200, json=bars_body(symbol, days[symbol]))

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url="http://datasets"
    ) as client:
        with pytest.raises(MarketDataError) as failed:
            await MarketData(client).closes_frame(["OLD", "NEW"])
    assert failed.value.status == 422
    assert str(failed.value) == (
        "the symbols' histories have no date in common: "
        "OLD 2001-01-02..2001-01-03, NEW 2026-08-10..2026-12-04"
    )


async def test_unchanged_history_is_revalidated_not_read_again() -> None:
    sent_tags: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent_tags.append(request.headers.get("if-none-match"))
        if request.headers.get("if-none-match") == 'W/"v1"':
            return httpx.Response(304, headers={"ETag": 'W/"v1"'})
        body = bars_body("SPX", ["2020-01-02", "2020-01-03"])
        return httpx.Response(200, json=body, headers={"ETag": 'W/"v1"'})

    async with httpx.AsyncClient(
        transport=httpx.MockTransport(answer), base_url="http://datasets"
    ) as client:
        market = MarketData(client)
        first = await market.ohlcv("SPX")
        first.loc[first.index[0], "close"] = -1.0  # a caller's edit never reaches the cache
        second = await market.ohlcv("SPX")
    assert sent_tags == [None, 'W/"v1"']
    assert list(second["close"]) == [1.0, 1.0]
