"""The sliding-window quota in Redis, shared by every gateway replica.

One Lua script decides atomically per key: a sorted set logs the hits (score: server time in
µs from ``TIME``, so replicas with skewed clocks agree; member: a unique hit id and its cost), a
companion counter holds the units in the log so a hit costs O(expired entries), and both
expire when the newest hit leaves the window. The semantics are those of
:class:`~sextant_gateway.quota_window.MemoryLimiter`, entry for entry (the tests hold them to it).

Redis unreachable: the decision never waits more than ``timeout_s`` (0.5 s) and falls back to
the in-process limiter with a warning (logged once per outage, and counted in
``sextant_quota_fallback_decisions_total``); Redis is tried again ``retry_s`` later. We chose
this over a fail-closed 503 because quotas also guard login: an outage of the quota store
should not lock every user out. The fallback still enforces every limit, per replica and from
zero: during an outage a user can spend at most (replicas + 1) x limit per window, never
without bound.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

from prometheus_client import Counter

from sextant_gateway.quota_window import (
    Decision,
    MemoryLimiter,
    QuotaRule,
    check_cost,
    key_digest,
)

log = logging.getLogger(__name__)

QUOTA_FALLBACKS = Counter(
    "sextant_quota_fallback_decisions_total",
    "Quota decisions taken in process because Redis did not answer in time",
)

# KEYS[1]: the log (sorted set, score = hit time in µs, member = "<hit id>:<cost>");
# KEYS[2]: units in the log. ARGV: limit, window (µs), cost, record (1/0), hit id.
# Returns {allowed (1/0), remaining, reset (µs), retry after (µs, -1 when none)}.
_SCRIPT = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local function units(member) return tonumber(string.match(member, ':(%d+)$')) end

local stored = redis.call('GET', KEYS[2])
local used = 0
if stored then
  used = tonumber(stored)
else  -- no counter (first hit, or evicted): count the log itself
  for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do used = used + units(member) end
end
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - window)
if #expired > 0 then
  for _, member in ipairs(expired) do used = used - units(member) end
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
end

local allowed = used + cost <= limit
if allowed and ARGV[4] == '1' then
  redis.call('ZADD', KEYS[1], now, ARGV[5] .. ':' .. cost)
  used = used + cost
end

local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #newest == 0 then
  redis.call('DEL', KEYS[1], KEYS[2])
  used = 0
elseif #expired > 0 or (allowed and ARGV[4] == '1') then
  local ttl = math.ceil((tonumber(newest[2]) + window - now) / 1000)
  redis.call('SET', KEYS[2], used, 'PX', ttl)
  redis.call('PEXPIRE', KEYS[1], ttl)
end

-- microseconds until `need` more units fit: the oldest entries leave the window first
local function wait(need)
  local excess = used + need - limit
  if excess <= 0 then return 0 end
  local start = 0
  while true do
    local page = redis.call('ZRANGE', KEYS[1], start, start + 99, 'WITHSCORES')
    if #page == 0 then return -1 end
    for i = 1, #page, 2 do
      excess = excess - units(page[i])
      if excess <= 0 then return tonumber(page[i + 1]) + window - now end
    end
    start = start + 100
  end
end

local retry = -1
if not allowed and cost <= limit then retry = wait(cost) end
return {allowed and 1 or 0, math.max(0, limit - used), wait(1), retry}
"""


class RedisLimiter:
    """Sliding-window quotas in Redis (``redis.asyncio``) with an in-process fallback.

    ``timeout_s``: longest a decision waits for Redis (connect and reply) before the fallback
    decides; ``retry_s``: how long after a failure Redis is left alone before being tried again.
    """

    def __init__(
        self,
        url: str,
        *,
        fallback: MemoryLimiter,
        prefix: str = "sextant:quota:",
        timeout_s: float = 0.5,
        retry_s: float = 2.0,
    ) -> None:
        import redis.asyncio as aioredis  # only needed when Redis is configured
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._redis = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),  # the fallback is the retry: never stack timeouts
        )
        self._script = self._redis.register_script(_SCRIPT)
        self._fallback = fallback
        self._prefix = prefix
        self._timeout_s = timeout_s
        self._retry_s = retry_s
        self._down_until: float | None = None

    async def hit(self, key: str, rule: QuotaRule, cost: int = 1) -> Decision:
        return await self._decide(key, rule, cost, record=True)

    async def peek(self, key: str, rule: QuotaRule, cost: int = 1) -> Decision:
        return await self._decide(key, rule, cost, record=False)

    async def close(self) -> None:
        await self._redis.aclose()
        await self._fallback.close()

    def keys(self, key: str) -> list[str]:
        """The Redis keys holding ``key``'s log and its unit count (one hash slot)."""
        base = f"{self._prefix}{{{key_digest(key)}}}"
        return [f"{base}:log", f"{base}:units"]

    async def _decide(self, key: str, rule: QuotaRule, cost: int, *, record: bool) -> Decision:
        check_cost(cost)
        if self._down_until is not None and time.monotonic() < self._down_until:
            return self._decide_here(key, rule, cost, record=record)
        window_us = round(rule.window_s * 1_000_000)
        args: list[int | str] = [rule.limit, window_us, cost, int(record), uuid.uuid4().hex]
        try:
            async with asyncio.timeout(self._timeout_s):
                reply = await self._script(keys=self.keys(key), args=args)
        except Exception as exc:  # any Redis, socket or timeout failure: decide here
            self._failed(exc)
            return self._decide_here(key, rule, cost, record=record)
        self._up()
        allowed, remaining, reset_us, retry_us = (int(v) for v in reply)
        return Decision(
            allowed=bool(allowed),
            limit=rule.limit,
            window_s=rule.window_s,
            cost=cost,
            remaining=remaining,
            reset_s=reset_us / 1e6,
            retry_after_s=None if retry_us < 0 else retry_us / 1e6,
        )

    def _decide_here(self, key: str, rule: QuotaRule, cost: int, *, record: bool) -> Decision:
        QUOTA_FALLBACKS.inc()
        return self._fallback.decide(key, rule, cost, record=record)

    def _failed(self, exc: Exception) -> None:
        if self._down_until is None:
            log.warning(
                "quota store (Redis) unavailable, counting quotas in this process for now: %s",
                exc.__class__.__name__,
            )
        self._down_until = time.monotonic() + self._retry_s

    def _up(self) -> None:
        if self._down_until is not None:
            log.info("quota store (Redis) is back")
            self._down_until = None
