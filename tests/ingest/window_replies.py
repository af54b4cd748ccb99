"""Replies to paged providers by the window each request asks for (respx side effects), shared
by the provider tests and the fetch-route tests of Coinbase and Databento."""

from __future__ import annotations

from urllib.parse import parse_qs

import httpx

from tests.ingest.provider_fixtures import reply

COINBASE_PAGES = {  # the first bucket a window asks -> its answer (BTC-USD daily, 2015-2016)
    "2015-01-01T00:00:00Z": "candles_btc_usd_1d_page1.json",
    "2015-10-28T00:00:00Z": "candles_btc_usd_1d_page2.json",
    "2016-08-23T00:00:00Z": "candles_btc_usd_1d_page3.json",
}
DATABENTO_WINDOWS = {  # the start a window asks (ns) -> its answer (ES.c.0 daily, 2024 Q1)
    "1704067200000000000": "ohlcv_1d_es_c_0_window1.json",
    "1706745600000000000": "ohlcv_1d_es_c_0_window2.json",
    "1709424000000000000": "ohlcv_1d_es_c_0_window3.json",
}


def coinbase_page(request: httpx.Request) -> httpx.Response:
    """The Coinbase fixture of the window ``request`` asks for."""
    return reply("coinbase", COINBASE_PAGES[request.url.params["start"]])


def form(request: httpx.Request) -> dict[str, str]:
    """The form fields of a POST."""
    return {k: v for k, (v,) in parse_qs(request.content.decode()).items()}


def databento_window(request: httpx.Request) -> httpx.Response:
    """The Databento fixture of the window ``request`` asks for."""
    return reply("databento", DATABENTO_WINDOWS[form(request)["start"]])
