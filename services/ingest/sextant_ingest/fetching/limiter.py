"""Per-provider rate limiting and retry backoff, on an injectable clock.

:class:`TokenBucket` holds ``requests`` tokens; a spent token comes back ``per_seconds`` after
it was spent. So no window of ``per_seconds`` ever holds more than ``requests`` requests, the
contract of fixed- and sliding-window APIs alike. (A bucket refilled continuously at
``requests/per_seconds`` lets ``2 * requests - 1`` through in the first window, which a
fixed-window API answers with 429s, and repeated 429s get keys banned.)

A spent token actually stays out ``per_seconds * (1 + margin)``: the margin absorbs the jitter
between taking a token and the request reaching the API.

Waiting callers are served in arrival order: each :meth:`TokenBucket.acquire` reserves the
earliest free slot synchronously, then sleeps until it. A wait longer than ``max_wait_s`` fails
fast with :class:`RateWaitTooLong` instead of reserving.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from typing import Protocol

from sextant_ingest.fetching.errors import RateWaitTooLong
from sextant_ingest.providers.errors import ProviderError, RateLimited
from sextant_ingest.providers.fetcher import RateLimit


class Clock(Protocol):
    """Monotonic time in seconds and a way to wait (tests pass a fake one)."""

    def monotonic(self) -> float:
        """Seconds since an arbitrary origin, never going back."""

    async def sleep(self, seconds: float) -> None:
        """Return after ``seconds``."""


class RealClock:
    """``time.monotonic`` and ``asyncio.sleep``."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class TokenBucket:
    """A provider's rate limit (implements ``providers.http.Limiter``)."""

    def __init__(
        self,
        provider: str,
        limit: RateLimit,
        *,
        max_wait_s: float = 60.0,
        margin: float = 0.0,
        clock: Clock | None = None,
    ) -> None:
        if limit.requests < 1 or limit.per_seconds <= 0:
            raise ValueError(f"{provider}: rate limit must be >= 1 request per > 0 s, got {limit}")
        self.provider = provider
        self.limit = limit
        self.window_s = limit.per_seconds * (1 + margin)
        """How long a spent token stays out: the window plus a safety margin, so the jitter
        between taking a token and the request reaching the API never crowds a window."""
        self.max_wait_s = max_wait_s
        self._clock = clock or RealClock()
        self._grants: deque[float] = deque(maxlen=limit.requests)
        self._paused_until = float("-inf")
        self.waited_s = 0.0
        """Total time callers spent waiting for a token (seconds)."""

    def next_free(self) -> float:
        """When (clock time) the next request could go."""
        now = self._clock.monotonic()
        ready = now
        if len(self._grants) == self.limit.requests:
            ready = self._grants[0] + self.window_s
        return max(ready, self._paused_until, now)

    async def acquire(self) -> None:
        """Wait for a token; raise :class:`RateWaitTooLong` if that would take too long."""
        now = self._clock.monotonic()
        at = self.next_free()
        wait = at - now
        if wait > self.max_wait_s:
            raise RateWaitTooLong(self.provider, wait, self.max_wait_s)
        self._grants.append(at)  # reserved before sleeping: later callers queue behind us
        if wait > 0:
            self.waited_s += wait
            await self._clock.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Let no request of this provider go for ``seconds`` (a 429's Retry-After)."""
        self._paused_until = max(self._paused_until, self._clock.monotonic() + seconds)


def retry_delay(
    error: ProviderError,
    attempt: int,
    *,
    base_s: float,
    max_s: float,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before attempt ``attempt + 1``: ``base * 2**(attempt-1)`` plus up to 50%
    jitter, capped at ``max_s``, and never less than a 429's Retry-After."""
    backoff = base_s * 2 ** (attempt - 1)
    backoff *= 1 + 0.5 * (rng or random).random()
    delay = min(backoff, max_s)
    if isinstance(error, RateLimited) and error.retry_after is not None:
        delay = max(delay, error.retry_after)
    return delay
