"""Sliding-window quotas: the rule grammar, the decision, and the in-process limiter.

A quota is ``limit`` units per ``window_s`` seconds over a true sliding window: a hit at time
``t`` spends its cost until ``t + window_s``, so no interval of that length ever holds more than
``limit`` units (fixed windows let twice the limit through across a boundary). Each key keeps a
log of its hits (time, and units spent so far, so the wait for N units is a binary search); a
hit that does not fit is refused and records nothing.

:class:`MemoryLimiter` is the in-process implementation; ``quota_redis.RedisLimiter`` runs the
same rules in Redis so replicas share the count. Both hash the key first, so a hostile subject
(a 1 MB user name, lone surrogates, glob characters) costs a fixed 32 characters.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

_UNIT_SECONDS = {
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86_400),
}
_RULE = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*", re.IGNORECASE)
_UNIT_NAMES = ((86_400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))


@dataclass(frozen=True)
class QuotaRule:
    """``limit`` units per sliding window of ``window_s`` seconds."""

    limit: int
    window_s: float

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"a quota limit must be >= 1 unit, got {self.limit}")
        if not self.window_s > 0:
            raise ValueError(f"a quota window must be > 0 s, got {self.window_s}")

    @classmethod
    def parse(cls, text: str) -> QuotaRule:
        """``"10/hour"``, ``"20/h"``, ``"600/minute"``, ``"5/30s"``, ``"10/15minutes"``: units,
        a slash, then a window as an optional count and a unit (s, m, h, d or their words)."""
        match = _RULE.fullmatch(text)
        if match is None or match[3].lower() not in _UNIT_SECONDS:
            raise ValueError(
                f"quota {text!r} is not '<units>/<window>' like '10/hour', '600/minute', "
                "'5/30s' or '10/15minutes' (window units: s, m, h, d or their words)"
            )
        count = float(match[2]) if match[2] else 1.0
        try:
            return cls(int(match[1]), count * _UNIT_SECONDS[match[3].lower()])
        except ValueError as exc:
            raise ValueError(f"quota {text!r}: {exc}") from None

    @property
    def window_text(self) -> str:
        """The window in words: ``"hour"``, ``"15 minutes"``, ``"1.5 seconds"``."""
        for seconds, name in _UNIT_NAMES:
            count = self.window_s / seconds
            if count >= 1 and count == int(count):
                return name if count == 1 else f"{int(count)} {name}s"
        return f"{self.window_s:g} seconds"

    def __str__(self) -> str:
        return f"{self.limit} per {self.window_text}"


@dataclass(frozen=True)
class Decision:
    """What a limiter answered for one hit of ``cost`` units.

    ``remaining``: units left in the window after this hit. ``reset_s``: seconds until a cost-1
    call fits (0 when one fits now). ``retry_after_s``: when refused, seconds until this cost
    fits; None when allowed, and None too when the cost alone exceeds the limit
    (:attr:`exceeds_limit`: never allowed, a 413/422 for the caller rather than a 429).
    """

    allowed: bool
    limit: int
    window_s: float
    cost: int
    remaining: int
    reset_s: float
    retry_after_s: float | None

    @property
    def exceeds_limit(self) -> bool:
        """The cost alone is more than the whole window allows: waiting will not help."""
        return self.cost > self.limit


class Limiter(Protocol):
    """Counts hits per key over sliding windows (in process or in Redis)."""

    async def hit(self, key: str, rule: QuotaRule, cost: int = 1) -> Decision:
        """Spend ``cost`` units of ``key``'s window when they fit, else refuse and spend none."""
        ...

    async def peek(self, key: str, rule: QuotaRule, cost: int = 1) -> Decision:
        """The decision :meth:`hit` would take now, without spending anything."""
        ...

    async def close(self) -> None:
        """Release connections (a no-op in process)."""
        ...


def key_digest(key: str) -> str:
    """A fixed-size name for ``key`` (32 hex characters, BLAKE2b-128): any text, including
    lone surrogates, maps to a safe Redis key or dict key of bounded size."""
    return hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def check_cost(cost: int) -> None:
    """Refuse a cost below 1 unit (a zero cost would always fit and hide a caller's bug)."""
    if cost < 1:
        raise ValueError(f"a quota cost must be >= 1 unit, got {cost}")


@dataclass
class _Log:
    """One key's hits, oldest first, as ``(time, units spent up to and including this hit)``:
    cumulative units make "when do N units free up" a binary search, not a walk."""

    entries: deque[tuple[float, int]] = field(default_factory=deque)
    spent: int = 0
    """Units of every hit recorded (the newest entry's cumulative count)."""
    freed: int = 0
    """Units of the hits that left the window (the last expired entry's cumulative count)."""
    expires: float = 0.0
    """When the newest entry leaves its window: the log is empty from then on."""

    @property
    def used(self) -> int:
        """Units in the window."""
        return self.spent - self.freed

    def prune(self, now: float, window_s: float) -> None:
        while self.entries and self.entries[0][0] <= now - window_s:
            self.freed = self.entries.popleft()[1]

    def record(self, now: float, cost: int, window_s: float) -> None:
        self.spent += cost
        self.entries.append((now, self.spent))
        self.expires = now + window_s

    def wait_until_fits(self, cost: int, rule: QuotaRule, now: float) -> float:
        """Seconds until ``cost`` more units fit (<= the limit): 0 now, else when the hit that
        brings the freed units to the excess leaves the window."""
        excess = self.used + cost - rule.limit
        if excess <= 0:
            return 0.0
        i = bisect.bisect_left(self.entries, self.freed + excess, key=lambda entry: entry[1])
        return self.entries[i][0] + rule.window_s - now


class MemoryLimiter:
    """The sliding-window log in this process: a dict of deques, one per hashed key.

    Memory is bounded: a key's log holds at most ``limit`` entries (each hit spends >= 1 unit),
    logs whose entries all expired are dropped as hits go by (least recently used first), and
    beyond ``max_keys`` the least recently used key is forgotten even if still counting (it
    could then spend its window again: ``max_keys`` should exceed the active users x quotas).
    ``clock`` gives seconds (monotonic); tests inject their own.
    """

    def __init__(
        self, max_keys: int = 100_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be >= 1, got {max_keys}")
        self._logs: OrderedDict[str, _Log] = OrderedDict()
        self._max_keys = max_keys
        self._clock = clock

    def __len__(self) -> int:
        """Keys currently held."""
        return len(self._logs)

    async def hit(self, key: str, rule: QuotaRule, cost: int = 1) -> Decision:
        return self.decide(key, rule, cost, record=True)

    async def peek(self, key: str, rule: QuotaRule, cost: int = 1) -> Decision:
        return self.decide(key, rule, cost, record=False)

    async def close(self) -> None:
        self._logs.clear()

    def decide(self, key: str, rule: QuotaRule, cost: int, *, record: bool) -> Decision:
        """The whole decision, synchronously (so atomic on the event loop); ``record`` spends
        the cost when it fits."""
        check_cost(cost)
        now = self._clock()
        digest = key_digest(key)
        log = self._logs.pop(digest, None) or _Log()
        log.prune(now, rule.window_s)
        allowed = log.used + cost <= rule.limit
        if allowed and record:
            log.record(now, cost, rule.window_s)
        decision = Decision(
            allowed=allowed,
            limit=rule.limit,
            window_s=rule.window_s,
            cost=cost,
            remaining=max(0, rule.limit - log.used),
            reset_s=log.wait_until_fits(1, rule, now),
            retry_after_s=None
            if allowed or cost > rule.limit
            else log.wait_until_fits(cost, rule, now),
        )
        if log.entries:
            self._logs[digest] = log  # re-inserted last: most recently used
        self._evict(now)
        return decision

    def _evict(self, now: float) -> None:
        while self._logs:
            oldest = next(iter(self._logs.values()))
            if oldest.expires > now and len(self._logs) <= self._max_keys:
                return
            self._logs.popitem(last=False)
