"""Helpers for replaying a provider's wire-format fixtures (tests/resources/<provider>/).

Only the network edge is faked (respx); the fetcher, ProviderHttp and httpx run for real.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import respx

from sextant_common.events import AssetClass, Bar, Interval
from sextant_ingest.providers.errors import ProviderError
from sextant_ingest.providers.fetcher import Fetcher, Transformed
from sextant_ingest.providers.http import ProviderHttp

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
SECRET = "sk-test-5ecret-DO-NOT-LEAK"
"""The API key every test passes; it must never show up in an error, a repr or a record."""
FETCHED_AT = datetime(2025, 6, 30, 12, tzinfo=UTC)
"""The fixed clock fetchers are built with: every record's ts_known."""


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def fixture_text(provider: str, name: str) -> str:
    """The text of ``tests/resources/<provider>/<name>``."""
    return (RESOURCES / provider / name).read_text()


def fixture_json(provider: str, name: str) -> Any:
    """The decoded JSON of a fixture."""
    return json.loads(fixture_text(provider, name))


def reply(
    provider: str, name: str, status: int = 200, headers: Mapping[str, str] | None = None
) -> httpx.Response:
    """An HTTP response whose body is a fixture file, typed by its extension."""
    content_type = "application/json" if name.endswith(".json") else "text/html"
    return httpx.Response(
        status,
        content=fixture_text(provider, name).encode(),
        headers={"Content-Type": content_type, **(headers or {})},
    )


def fixed_clock() -> datetime:
    """The clock fetchers are built with in tests."""
    return FETCHED_AT


async def fetch(
    fetcher: Fetcher[Any, Any], params: Mapping[str, Any], base_url: str
) -> Transformed[Any]:
    """Run the three steps of ``fetcher`` through a real ProviderHttp over httpx."""
    async with httpx.AsyncClient() as client:
        http = ProviderHttp(fetcher.provider.name, client, base_url)
        query = fetcher.transform_query(params)
        raw = await fetcher.aextract_data(query, http)
        return fetcher.transform_data(query, raw)


async def fetch_error(
    fetcher: Fetcher[Any, Any], params: Mapping[str, Any], base_url: str
) -> ProviderError:
    """Run ``fetcher`` and return the provider error it raises (fails if none is raised)."""
    try:
        await fetch(fetcher, params, base_url)
    except ProviderError as exc:
        assert_secret_hidden(exc, fetcher)
        return exc
    raise AssertionError("expected a ProviderError")


def assert_bars(
    bars: Sequence[Bar],
    *,
    instrument_id: str,
    asset_class: AssetClass,
    interval: Interval,
    source: str,
) -> None:
    """Every bar is a valid, UTC, interval-aligned bar of the instrument, in time order."""
    assert bars, "expected bars"
    step = interval.duration.total_seconds()
    for bar in bars:
        Bar.model_validate(bar.model_dump())  # still valid when rebuilt from its fields
        assert bar.instrument_id == instrument_id
        assert bar.asset_class is asset_class
        assert bar.interval is interval
        assert bar.source == source
        assert bar.ts_event.tzinfo is UTC and bar.ts_known.tzinfo is UTC
        assert bar.ts_event.timestamp() % step == 0, f"{bar.ts_event} not on a {interval} grid"
        assert bar.ts_known == FETCHED_AT >= bar.ts_event + interval.duration
        assert bar.revision == 0
        assert SECRET not in bar.model_dump_json()
    starts = [b.ts_event for b in bars]
    assert starts == sorted(set(starts)), "bars out of order or duplicated"


def assert_secret_hidden(*objects: object) -> None:
    """``SECRET`` appears in neither the str nor the repr of any of ``objects``."""
    for obj in objects:
        assert SECRET not in str(obj) and SECRET not in repr(obj), type(obj).__name__


def no_calls(router: respx.MockRouter) -> bool:
    """Whether the mocked network saw no request at all."""
    return router.calls.call_count == 0
