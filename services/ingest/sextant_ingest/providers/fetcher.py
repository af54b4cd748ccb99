"""The provider contract: typed query -> raw fetch (the only I/O) -> normalized records.

A provider is one module under ``providers/`` declaring, once, what it serves:

* ``PROVIDER``: a :class:`ProviderInfo` (what it serves, its rate limit, the credential
  variables it needs);
* ``FETCHERS``: one :class:`Fetcher` subclass per dataset (may be empty, see ``BARS``);
* ``BARS`` (optional): a :class:`~sextant_ingest.providers.base.BarProvider` class, for a
  provider that makes its bars itself (history, and a live stream when it has one) rather than
  over HTTP. Its ``bars`` dataset is derived from it (:mod:`.history`).

The fetching registry (:mod:`sextant_ingest.fetching.registry`) loads modules by name and hands
every consumer the same provider: the unified fetcher its fetchers, the ingest worker and the
backfill a ``BarProvider`` (the module's own, or one over its bars fetcher through the unified
fetcher), the API its listing. Routing, fallback, retries, rate limits, caching and audit live
in the unified fetcher, never in a provider. ``simulated.py`` is the annotated example of a
``BARS`` provider, ``polygon.py`` of an HTTP one.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from sextant_common.events import AssetClass, Event
from sextant_ingest.providers.http import ProviderHttp


class DataKind(StrEnum):
    """What a dataset returns (one event model each)."""

    BARS = "bars"
    FUNDAMENTALS = "fundamentals"
    MACRO = "macro"
    NEWS = "news"
    SENTIMENT = "sentiment"
    OPTIONS = "options"


@dataclass(frozen=True)
class RateLimit:
    """At most ``requests`` per ``per_seconds`` (a token bucket of that capacity and refill)."""

    requests: int
    per_seconds: float


@dataclass(frozen=True)
class ProviderInfo:
    """What a provider serves and needs."""

    name: str
    base_url: str
    kinds: frozenset[DataKind]
    rate_limit: RateLimit
    asset_classes: frozenset[AssetClass] = frozenset()
    credentials: tuple[str, ...] = ()
    """Environment variables (SEXTANT_...) holding its keys; empty for keyless APIs."""
    docs_url: str = ""
    user_agent: str | None = None
    """Some APIs (SEC EDGAR) require a descriptive User-Agent."""
    fallback: bool = True
    """Tried by routing when no route names it. False for a provider whose data must never stand
    in for a real one's (the simulated market): it answers only when asked by name or listed in
    a route."""


@dataclass(frozen=True)
class Reject:
    """One record of a response that could not be normalized, and why."""

    reason: str
    raw: Any
    key: str | None = None
    """The bus key its record would have had (e.g. the instrument id), when known: the dead
    letter's record is keyed by it."""


Q = TypeVar("Q", bound=BaseModel)
R = TypeVar("R", bound=Event)


@dataclass(frozen=True)
class Transformed(Generic[R]):
    """Normalized records plus the rejected ones (the rest of a page is always kept)."""

    records: list[R]
    rejects: list[Reject] = field(default_factory=list)


class Fetcher(abc.ABC, Generic[Q, R]):
    """One dataset of one provider."""

    provider: ProviderInfo
    kind: DataKind
    dataset: str
    """Short name of the dataset, e.g. "aggregates" or "series_observations"."""

    @abc.abstractmethod
    def transform_query(self, params: Mapping[str, Any]) -> Q:
        """Validate ``params`` and fill defaults; raise ValueError naming a bad field."""

    @abc.abstractmethod
    async def aextract_data(self, query: Q, http: ProviderHttp) -> Any:
        """Fetch the raw payload(s) for ``query`` (all pages). The only I/O of a provider."""

    @abc.abstractmethod
    def transform_data(self, query: Q, raw: Any) -> Transformed[R]:
        """Turn the raw payload into validated events; bad records become Rejects."""
