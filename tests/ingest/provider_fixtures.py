"""Helpers for replaying a provider's wire-format fixtures (tests/resources/<provider>/).

Only the network edge is faked (respx); the fetcher, ProviderHttp and httpx run for real.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import respx

from sextant_common.events import AssetClass, Bar, Interval
from sextant_ingest.providers.errors import MissingCredentials, ProviderError, RateLimited
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


F = TypeVar("F", bound=Fetcher[Any, Any])


def keyed_fetcher(
    cls: Callable[..., F], variable: str, credentials: Mapping[str, Any] | None = None
) -> F:
    """``cls`` on the fixed clock, with ``{variable: SECRET}`` unless ``credentials`` is given."""
    return cls({variable: SECRET} if credentials is None else credentials, clock=fixed_clock)


@dataclass(frozen=True)
class HttpFailure:
    """A fixture answer (``tests/resources/<provider>/<fixture>``) and the error it must raise.

    ``retry_after`` is the Retry-After header of a 429 (the error must carry it in seconds);
    ``message``, when given, must appear in the error's text; ``method`` is the HTTP method the
    fetcher uses (POST for an RPC-style API).
    """

    status: int
    fixture: str
    error: type[ProviderError]
    retry_after: str | None = None
    message: str | None = None
    method: str = "GET"
    headers: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if self.retry_after is not None:
            self.headers["Retry-After"] = self.retry_after

    def __str__(self) -> str:
        return f"{self.status}-{self.fixture}-{self.error.__name__}"

    async def check(
        self, fetcher: Fetcher[Any, Any], params: Mapping[str, Any], base_url: str, url: str
    ) -> None:
        """Answer ``url`` with the fixture (under ``@respx.mock``); the fetch raises exactly
        ``error``, without the secret in its text."""
        respx.route(method=self.method, url=url).mock(
            return_value=reply(fetcher.provider.name, self.fixture, self.status, self.headers)
        )
        exc = await fetch_error(fetcher, params, base_url)
        assert type(exc) is self.error
        if isinstance(exc, RateLimited):
            assert self.retry_after is not None
            assert exc.retry_after == float(self.retry_after)
        if self.message is not None:
            assert self.message in str(exc)


async def assert_missing_key(
    fetcher: Fetcher[Any, Any],
    params: Mapping[str, Any],
    base_url: str,
    variable: str,
    router: respx.MockRouter,
) -> None:
    """Fetching without the key raises MissingCredentials naming ``variable``, before any
    request."""
    with pytest.raises(MissingCredentials, match=f"set {variable}") as caught:
        await fetch(fetcher, params, base_url)
    assert caught.value.variable == variable
    assert no_calls(router)


def assert_fetcher_hides_secret(fetcher: Fetcher[Any, Any], params: Mapping[str, Any]) -> None:
    """Neither the fetcher (its repr names the key's variable, not its value), its attributes
    nor a validated query show ``SECRET``."""
    assert_secret_hidden(fetcher, fetcher.transform_query(params), vars(fetcher))
    assert all(variable in repr(fetcher) for variable in vars(fetcher)["_credentials"])
