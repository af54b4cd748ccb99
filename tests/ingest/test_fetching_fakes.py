"""A fake bar provider in Polygon's aggregates wire shape, for the unified fetcher's tests.

Not a test module itself (it holds no tests): the fetcher tests, the fetch-to-lake integration
test and bench/fetcher.py import it. ``acme`` is loadable by module name (``PROVIDER`` and
``FETCHERS`` below); :func:`provider_module` makes more providers of the same shape under other
names, for routing and fallback. The fake fetchers do real HTTP through ``ProviderHttp``;
tests serve the URL with respx, or with :class:`ReplayServer` (a real uvicorn on a free port).
"""

from __future__ import annotations

import asyncio
import threading
import time
import types
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import uvicorn
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sextant_common.broker_launcher import free_port
from sextant_common.events import AssetClass, Bar, Interval
from sextant_ingest.providers.errors import MissingCredentials, NoData
from sextant_ingest.providers.fetcher import (
    DataKind,
    Fetcher,
    ProviderInfo,
    RateLimit,
    Reject,
    Transformed,
)
from sextant_ingest.providers.http import ProviderHttp

SECRET = "acme-5ecret-key-DO-NOT-LEAK"
BASE_URL = "https://api.acme.test"
KEY_VARIABLE = "SEXTANT_ACME_API_KEY"
FETCHED_AT = datetime(2025, 6, 30, 12, tzinfo=UTC)
FAST = RateLimit(100, 1.0)


def provider_info(
    name: str = "acme",
    base_url: str = BASE_URL,
    *,
    rate: RateLimit = FAST,
    credentials: tuple[str, ...] | None = None,
    asset_classes: frozenset[AssetClass] = frozenset({AssetClass.EQUITY, AssetClass.ETF}),
) -> ProviderInfo:
    """A bar provider called ``name``; its key variable is ``SEXTANT_<NAME>_API_KEY``."""
    return ProviderInfo(
        name=name,
        base_url=base_url,
        kinds=frozenset({DataKind.BARS}),
        rate_limit=rate,
        asset_classes=asset_classes,
        credentials=(f"SEXTANT_{name.upper()}_API_KEY",) if credentials is None else credentials,
    )


class AggsQuery(BaseModel):
    """Daily bars of one symbol over [start, end] (inclusive dates)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str = Field(pattern=r"^[A-Z0-9.]{1,12}$")
    start: date
    end: date
    interval: Interval = Interval.D1
    asset_class: AssetClass = AssetClass.EQUITY


class AcmeAggregates(Fetcher[AggsQuery, Bar]):
    """``GET /v2/aggs/ticker/{symbol}/range/1/day/{start}/{end}?apiKey=...``, all pages."""

    provider = provider_info()
    kind = DataKind.BARS
    dataset = "aggregates"

    def __init__(self, credentials: Mapping[str, SecretStr | str] | None = None) -> None:
        self._credentials = {
            k: v if isinstance(v, SecretStr) else SecretStr(v)
            for k, v in (credentials or {}).items()
        }

    def transform_query(self, params: Mapping[str, Any]) -> AggsQuery:
        return AggsQuery.model_validate(dict(params))

    async def aextract_data(self, query: AggsQuery, http: ProviderHttp) -> list[Any]:
        variable = self.provider.credentials[0] if self.provider.credentials else None
        params: dict[str, str] = {"adjusted": "true", "sort": "asc"}
        if variable is not None:
            key = self._credentials.get(variable)
            if key is None:
                raise MissingCredentials(self.provider.name, variable)
            params["apiKey"] = key.get_secret_value()
        url = f"/v2/aggs/ticker/{query.symbol}/range/1/day/{query.start}/{query.end}"
        pages = []
        while url:
            page = await http.get_json(url, params=params)
            pages.append(page)
            url = page.get("next_url") or ""
        if not any(page.get("resultsCount") for page in pages):
            raise NoData(self.provider.name, f"no bars for {query.symbol}")
        return pages

    def transform_data(self, query: AggsQuery, raw: list[Any]) -> Transformed[Bar]:
        records: list[Bar] = []
        rejects: list[Reject] = []
        for page in raw:
            for row in page.get("results", []):
                try:
                    records.append(
                        Bar(
                            instrument_id=query.symbol,
                            asset_class=query.asset_class,
                            interval=query.interval,
                            ts_event=datetime.fromtimestamp(row["t"] / 1000, UTC),
                            open=row["o"],
                            high=row["h"],
                            low=row["l"],
                            close=row["c"],
                            volume=row["v"],
                            source=self.provider.name,
                            ts_known=FETCHED_AT,
                        )
                    )
                except KeyError as exc:
                    rejects.append(Reject(f"missing field {exc}", row))
                except ValidationError as exc:
                    rejects.append(Reject(exc.errors()[0]["msg"], row))
        return Transformed(records, rejects)


def provider_module(name: str, base_url: str = BASE_URL, **info: Any) -> types.ModuleType:
    """A provider module (``PROVIDER``, ``FETCHERS``) of the acme shape called ``name``."""
    provider = provider_info(name, base_url, **info)
    fetcher = type(f"{name.title()}Aggregates", (AcmeAggregates,), {"provider": provider})
    module = types.ModuleType(f"fake_providers.{name}")
    module.PROVIDER = provider  # type: ignore[attr-defined]
    module.FETCHERS = (fetcher,)  # type: ignore[attr-defined]
    return module


PROVIDER = AcmeAggregates.provider
FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (AcmeAggregates,)


# -- the wire format ----------------------------------------------------------------------


def aggs_rows(symbol: str, start: date, days: int, *, close: float = 100.0) -> list[dict[str, Any]]:
    """``days`` consecutive daily rows as Polygon sends them (t = bar start in epoch ms)."""
    rows = []
    for i in range(days):
        day = datetime.combine(start + timedelta(days=i), datetime.min.time(), UTC)
        c = close + (i % 5)
        rows.append(
            {
                "v": 1000.0 + i,
                "vw": c,
                "o": c * 0.99,
                "c": c,
                "h": c * 1.01,
                "l": c * 0.98,
                "t": int(day.timestamp() * 1000),
                "n": 10 + i,
            }
        )
    return rows


def aggs_payload(symbol: str, rows: Sequence[dict[str, Any]], next_url: str | None = None) -> dict:
    """One page of ``/v2/aggs`` around ``rows``."""
    payload: dict[str, Any] = {
        "ticker": symbol,
        "queryCount": len(rows),
        "resultsCount": len(rows),
        "adjusted": True,
        "results": list(rows),
        "status": "OK",
        "request_id": "6a7e466379af0a71039d60cc78e72282",
        "count": len(rows),
    }
    if next_url:
        payload["next_url"] = next_url
    return payload


def replay_app(
    *,
    days: int = 5,
    unknown: frozenset[str] = frozenset({"NOPE"}),
    bad: frozenset[str] = frozenset({"BAD"}),
    key: str | None = SECRET,
) -> Starlette:
    """An ``/v2/aggs`` server: ``days`` bars from ``start`` for any symbol, 404 for ``unknown``,
    401 without the right ``apiKey`` (when ``key`` is set); for ``bad`` symbols the first row's
    high is below its close. ``app.state.hits`` counts requests."""

    async def aggs(request: Request) -> JSONResponse:
        request.app.state.hits += 1
        if key is not None and request.query_params.get("apiKey") != key:
            return JSONResponse({"status": "ERROR", "error": "Unknown API Key"}, status_code=401)
        symbol = request.path_params["symbol"]
        if symbol in unknown:
            return JSONResponse({"status": "NOT_FOUND", "message": "Ticker not found"}, 404)
        start = date.fromisoformat(request.path_params["start"])
        rows = aggs_rows(symbol, start, days)
        if symbol in bad:
            rows[0]["h"] = 1.0
        return JSONResponse(aggs_payload(symbol, rows))

    app = Starlette(routes=[Route("/v2/aggs/ticker/{symbol}/range/1/day/{start}/{end}", aggs)])
    app.state.hits = 0
    return app


class ReplayServer:
    """:func:`replay_app` on a real uvicorn in a background thread (use as ``with``)."""

    def __init__(self, app: Starlette | None = None) -> None:
        self.app = app or replay_app()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve())

    @property
    def hits(self) -> int:
        """Requests the server has answered."""
        return int(self.app.state.hits)

    def __enter__(self) -> ReplayServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"replay server did not start on port {self.port}")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


class FakeClock:
    """A monotonic clock whose ``sleep`` advances time at once and records the wait."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)
