"""The hot cache of fetch results: in process by default, Redis when ``SEXTANT_REDIS_URL`` is set.

Keys name the provider, dataset and a hash of the normalized query. In Redis a value is a JSON
list of ``{"model": <event class name>, "data": <event dict>}`` with a TTL (SET .. EX, i.e.
SETEX); in process it is the event objects themselves (events are frozen, so sharing is safe).
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Protocol

import orjson

from sextant_common.events import Event
from sextant_ingest.fetching.limiter import Clock, RealClock

log = logging.getLogger(__name__)


class HotCache(Protocol):
    """Where recent results are kept for ``ttl_s`` seconds."""

    async def get(self, key: str) -> list[Event] | None:
        """The records stored under ``key``, or None (missing or expired)."""

    async def set(self, key: str, records: Sequence[Event], ttl_s: float) -> None:
        """Store ``records`` under ``key`` for ``ttl_s`` seconds."""

    async def aclose(self) -> None:
        """Release connections."""


class MemoryCache:
    """An in-process TTL cache with a bound on entries (least recently used evicted first)."""

    name = "memory"

    def __init__(self, max_entries: int = 10_000, clock: Clock | None = None) -> None:
        self._entries: OrderedDict[str, tuple[float, list[Event]]] = OrderedDict()
        self._max_entries = max_entries
        self._clock = clock or RealClock()

    async def get(self, key: str) -> list[Event] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, records = entry
        if self._clock.monotonic() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return list(records)  # callers may change their list, not ours

    async def set(self, key: str, records: Sequence[Event], ttl_s: float) -> None:
        self._entries[key] = (self._clock.monotonic() + ttl_s, list(records))
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    async def aclose(self) -> None:
        self._entries.clear()


class RedisCache:
    """The hot cache in Redis (``redis.asyncio``). A Redis outage degrades to cache misses,
    logged once until Redis answers again; it never fails a fetch."""

    name = "redis"

    def __init__(self, url: str, prefix: str = "sextant:fetch:") -> None:
        import redis.asyncio as aioredis  # only needed when Redis is configured

        self._redis = aioredis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._prefix = prefix
        self._down = False

    async def get(self, key: str) -> list[Event] | None:
        try:
            payload = await self._redis.get(self._prefix + key)
        except Exception as exc:  # any Redis/connection failure is a miss
            self._failed(exc)
            return None
        self._up()
        return None if payload is None else loads_events(payload)

    async def set(self, key: str, records: Sequence[Event], ttl_s: float) -> None:
        try:
            # SET .. EX: SETEX's modern spelling (redis-py deprecates setex())
            await self._redis.set(
                self._prefix + key, dumps_events(records), ex=max(1, math.ceil(ttl_s))
            )
        except Exception as exc:
            self._failed(exc)
            return
        self._up()

    async def aclose(self) -> None:
        await self._redis.aclose()

    def _failed(self, exc: Exception) -> None:
        if not self._down:
            log.warning(
                "redis hot cache unavailable, fetching without it: %s", exc.__class__.__name__
            )
            self._down = True

    def _up(self) -> None:
        if self._down:
            log.info("redis hot cache is back")
            self._down = False


def dumps_events(records: Sequence[Event]) -> bytes:
    """``[{"model": "Bar", "data": {...}}, ...]`` as JSON bytes."""
    parts = [
        b'{"model":"' + type(r).__name__.encode() + b'","data":' + r.to_bytes() + b"}"
        for r in records
    ]
    return b"[" + b",".join(parts) + b"]"


def loads_events(payload: bytes | str) -> list[Event]:
    """Validate the events of :func:`dumps_events` back into their models."""
    items: list[dict[str, Any]] = orjson.loads(payload)
    return [event_model(item["model"]).model_validate(item["data"]) for item in items]


def event_model(name: str) -> type[Event]:
    """The Event subclass called ``name`` (standard models and provider subclasses)."""
    model = _models().get(name)
    if model is None:
        raise ValueError(f"unknown event model {name!r} in cached value")
    return model


def _models() -> dict[str, type[Event]]:
    found: dict[str, type[Event]] = {}
    stack = list(Event.__subclasses__())
    while stack:
        cls = stack.pop()
        found.setdefault(cls.__name__, cls)
        stack.extend(cls.__subclasses__())
    return found
