"""The sliding-window quota in Redis, shared by every gateway replica.

One Lua script decides atomically per key on one sorted set: a member per hit carries its time
(server time from ``TIME``, so replicas with skewed clocks agree), its cost and a unique id; the
score is the units spent so far, so a decision costs O(log n + expired hits), never a walk of
the window; the key expires when its newest hit leaves the window. The semantics are those of
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

# KEYS[1]: the log, a sorted set with one member per hit, "<time µs>:<cost>:<hit id>", scored by
# the units the key spent up to and including that hit (cumulative, so oldest first, and "when
# do N units free up" is one range query). ARGV: limit, window (µs), cost, record (1/0), hit id.
# Returns {allowed (1/0), remaining, reset (µs), retry after (µs, -1 when none)}.
_SCRIPT = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local clock = redis.call('TIME')
local stamp = clock[1] .. string.format('%06d', tonumber(clock[2]))
local now = tonumber(stamp)
local function hit_time(member) return tonumber(string.match(member, '^(%d+):')) end
local function hit_cost(member) return tonumber(string.match(member, '^%d+:(%d+):')) end

-- drop the hits that left the window, oldest first, a page at a time
while true do
  local page = redis.call('ZRANGE', KEYS[1], 0, 99)
  local expired = 0
  for _, member in ipairs(page) do
    if hit_time(member) > now - window then break end
    expired = expired + 1
  end
  if expired > 0 then redis.call('ZREMRANGEBYRANK', KEYS[1], 0, expired - 1) end
  if expired < 100 then break end
end

-- units before the oldest hit in the window, and up to the newest
local freed, spent = 0, 0
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #oldest > 0 then
  freed = tonumber(oldest[2]) - hit_cost(oldest[1])
  spent = tonumber(redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')[2])
end

local allowed = spent - freed + cost <= limit
if allowed and ARGV[4] == '1' then
  spent = spent + cost
  redis.call('ZADD', KEYS[1], spent, stamp .. ':' .. cost .. ':' .. ARGV[5])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
end
local used = spent - freed

-- microseconds until `need` more units fit: when the hit that frees enough leaves the window
local function wait(need)
  local excess = used + need - limit
  if excess <= 0 then return 0 end
  local member = redis.call('ZRANGEBYSCORE', KEYS[1], freed + excess, '+inf', 'LIMIT', 0, 1)[1]
  return hit_time(member) + window - now
end

local retry = -1
if not allowed and cost <= limit then retry = wait(cost) end
return {allowed and 1 or 0, math.max(0, limit - used), wait(1), retry}
"""


class RedisLimiter:
    """Sliding-window quotas in Redis (``redis.asyncio``) with an in-process fallback.

    ``timeout_s``: longest a decision waits for Redis (connect and reply) before the fallback
    decides; ``retry_s``: how long after a failure Redis is left alone before being tried again;
    ``max_connections``: connections to Redis (more concurrent decisions wait for one).
    """

    def __init__(
        self,
        url: str,
        *,
        fallback: MemoryLimiter,
        prefix: str = "sextant:quota:",
        timeout_s: float = 0.5,
        retry_s: float = 2.0,
        max_connections: int = 50,
    ) -> None:
        import redis.asyncio as aioredis  # only needed when Redis is configured
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        # A burst beyond the pool waits for a free connection (within the timeout) instead of
        # failing over to the fallback; the fallback is the retry, so timeouts never stack.
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._redis = aioredis.Redis.from_pool(pool)
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

    def redis_key(self, key: str) -> str:
        """The Redis key holding ``key``'s log."""
        return self._prefix + key_digest(key)

    async def _decide(self, key: str, rule: QuotaRule, cost: int, *, record: bool) -> Decision:
        check_cost(cost)
        if self._down_until is not None and time.monotonic() < self._down_until:
            return self._decide_here(key, rule, cost, record=record)
        window_us = round(rule.window_s * 1_000_000)
        args: list[int | str] = [rule.limit, window_us, cost, int(record), uuid.uuid4().hex]
        try:
            async with asyncio.timeout(self._timeout_s):
                reply = await self._script(keys=[self.redis_key(key)], args=args)
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
                "quota store (Redis) unavailable, counting quotas in this process for now: %s: %s",
                exc.__class__.__name__,
                exc,
            )
        self._down_until = time.monotonic() + self._retry_s

    def _up(self) -> None:
        if self._down_until is not None:
            log.info("quota store (Redis) is back")
            self._down_until = None
