"""Quotas: the rule grammar, true sliding windows (against a brute-force oracle), the same
decisions in process and in a real Redis, atomicity across replicas, hostile keys, a Redis that
is down or hangs, the exact headers and the 429/422 a route answers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import redis
from fastapi import FastAPI, Request, Response
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import ValidationError

from sextant_common.broker_launcher import free_port, wait_for_port
from sextant_gateway.quota_redis import RedisLimiter
from sextant_gateway.quota_window import Decision, Limiter, MemoryLimiter, QuotaRule
from sextant_gateway.quotas import (
    DEFAULT_QUOTAS,
    Quotas,
    QuotaSettings,
    charge,
    check,
    quota_headers,
)


class FakeClock:
    """Seconds that only move when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def redis_limiter(redis_url: str) -> AsyncIterator[RedisLimiter]:
    """A RedisLimiter on the real Redis under a prefix of its own, removed afterwards; every
    decision must have come from Redis (none from the in-process fallback)."""
    prefix = f"sextant:test:quota:{uuid.uuid4().hex[:8]}:"
    limiter = RedisLimiter(redis_url, fallback=MemoryLimiter(), prefix=prefix)
    fallbacks = _fallbacks()
    yield limiter
    await limiter.close()
    assert _fallbacks() == fallbacks, "Redis did not answer in time: decided in process"
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


def _fallbacks() -> float:
    return REGISTRY.get_sample_value("sextant_quota_fallback_decisions_total") or 0.0


def _keys(redis_url: str, prefix: str) -> list[bytes]:
    client = redis.Redis.from_url(redis_url)
    try:
        return list(client.scan_iter(match=f"{prefix}*"))
    finally:
        client.close()


# --- rules and settings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "limit", "window_s", "words"),
    [
        ("10/hour", 10, 3600, "10 per hour"),
        ("20/h", 20, 3600, "20 per hour"),
        ("600/minute", 600, 60, "600 per minute"),
        ("5/30s", 5, 30, "5 per 30 seconds"),
        ("10/15minutes", 10, 900, "10 per 15 minutes"),
        (" 7 / 2 Days ", 7, 172_800, "7 per 2 days"),
        ("3/1.5s", 3, 1.5, "3 per 1.5 seconds"),
    ],
)
def test_a_rule_parses_from_units_per_window(
    text: str, limit: int, window_s: float, words: str
) -> None:
    rule = QuotaRule.parse(text)
    assert (rule.limit, rule.window_s) == (limit, window_s)
    assert str(rule) == words


@pytest.mark.parametrize(
    "text", ["10", "10/fortnight", "ten/hour", "0/hour", "10/0s", "-1/h", "10/h/2", "", "10/"]
)
def test_a_bad_rule_is_a_value_error_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(repr(text))):
        QuotaRule.parse(text)


def test_settings_merge_the_environment_over_the_defaults(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert QuotaSettings(_env_file=None).quotas == DEFAULT_QUOTAS
    monkeypatch.setenv("SEXTANT_QUOTAS", '{"backtests": "5/30s", "reports": "3/day"}')
    monkeypatch.setenv("SEXTANT_REDIS_URL", "redis://127.0.0.1:1/0")
    settings = QuotaSettings(_env_file=None)
    rules = settings.rules()
    assert rules["backtests"] == QuotaRule(5, 30)
    assert rules["reports"] == QuotaRule(3, 86_400)
    assert rules["sweeps"] == QuotaRule(20_000, 3600)  # not given: the default stays
    assert settings.redis_url is not None
    assert settings.redis_url.get_secret_value() == "redis://127.0.0.1:1/0"


def test_a_bad_rule_in_the_environment_names_the_quota_and_the_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEXTANT_QUOTAS", '{"agent": "20 per hour"}')
    with pytest.raises(ValidationError, match=r"SEXTANT_QUOTAS\['agent'\].*'20 per hour'"):
        QuotaSettings(_env_file=None)


# --- sliding-window semantics (in process, injected clock) ----------------------------------


def _oracle(
    spent: list[tuple[float, int]], now: float, cost: int, rule: QuotaRule
) -> tuple[bool, int, float, float | None]:
    """Brute force over every hit allowed so far: (allowed, remaining, reset_s, retry_after_s)."""

    def used_at(t: float) -> int:
        return sum(c for at, c in spent if t - rule.window_s < at <= now)

    def wait(units: int) -> float:
        # the earliest moment (an entry's expiry, or now) at which `units` more fit
        expiries = [at + rule.window_s for at, _ in spent if at + rule.window_s > now]
        for t in sorted([now, *expiries]):
            if used_at(t) + units <= rule.limit:
                return t - now
        raise AssertionError("never fits")

    used = used_at(now)
    allowed = cost <= rule.limit and used + cost <= rule.limit
    if allowed:
        spent.append((now, cost))
        used += cost
    retry = None if allowed or cost > rule.limit else wait(cost)
    return allowed, rule.limit - used, wait(1), retry


@pytest.mark.parametrize("seed", range(5))
async def test_the_window_slides_exactly_like_a_brute_force_oracle(seed: int) -> None:
    """Random arrivals and costs (some over the limit) against a brute-force recount: the same
    decision, remaining, reset and retry-after at every step; no window of `window_s` ever
    holds more than the limit."""
    rng = random.Random(seed)
    rule = QuotaRule(7, 10.0)
    clock = FakeClock()
    limiter = MemoryLimiter(clock=clock)
    spent: list[tuple[float, int]] = []
    for _ in range(400):
        clock.now += rng.choice([0.0, 0.25, 0.5, 1.0, 3.0])
        cost = rng.choice([1, 1, 1, 2, 3, 8])
        decision = await limiter.hit("user-1", rule, cost)
        allowed, remaining, reset_s, retry_after_s = _oracle(spent, clock.now, cost, rule)
        assert (decision.allowed, decision.remaining) == (allowed, remaining), clock.now
        assert decision.reset_s == pytest.approx(reset_s)
        assert decision.retry_after_s == pytest.approx(retry_after_s)
        assert decision.exceeds_limit == (cost > rule.limit)
        in_window = sum(c for at, c in spent if clock.now - rule.window_s < at <= clock.now)
        assert in_window <= rule.limit
        if retry_after_s is not None:
            assert retry_after_s > 0
            assert not (await limiter.peek("user-1", rule, cost)).allowed
    assert 50 < len(spent) < 350  # the sequence did exercise both answers


async def test_a_window_boundary_gives_no_second_allowance() -> None:
    """A fixed hourly window would allow 3 more right after :10; the sliding one waits until
    the first of the three leaves (t = 19)."""
    rule = QuotaRule(3, 10.0)
    clock = FakeClock()
    limiter = MemoryLimiter(clock=clock)
    for clock.now in (9.0, 9.5, 9.9):
        assert (await limiter.hit("u", rule)).allowed
    clock.now = 10.1
    refused = await limiter.hit("u", rule)
    assert not refused.allowed
    assert refused.retry_after_s == pytest.approx(8.9)
    assert refused.reset_s == pytest.approx(8.9)
    clock.now = 18.999
    assert not (await limiter.hit("u", rule)).allowed
    clock.now = 19.0
    assert (await limiter.hit("u", rule)).remaining == 0


async def test_a_refused_hit_spends_nothing_and_a_cost_over_the_limit_never_fits() -> None:
    rule = QuotaRule(100, 60.0)
    clock = FakeClock()
    limiter = MemoryLimiter(clock=clock)
    assert (await limiter.hit("grid", rule, 60)).remaining == 40
    refused = await limiter.hit("grid", rule, 50)
    assert (refused.allowed, refused.remaining, refused.exceeds_limit) == (False, 40, False)
    assert refused.retry_after_s == pytest.approx(60.0)
    assert (await limiter.hit("grid", rule, 40)).remaining == 0
    clock.now = 1e6  # all expired: still never
    never = await limiter.hit("grid", rule, 101)
    assert (never.allowed, never.exceeds_limit, never.retry_after_s) == (False, True, None)
    assert never.remaining == 100
    with pytest.raises(ValueError, match="got 0"):
        await limiter.hit("grid", rule, 0)


async def test_the_in_process_limiter_holds_a_bounded_number_of_keys() -> None:
    rule = QuotaRule(5, 10.0)
    clock = FakeClock()
    limiter = MemoryLimiter(max_keys=50, clock=clock)
    for i in range(500):
        await limiter.hit(f"user-{i}", rule)
    assert len(limiter) == 50
    assert not (await limiter.peek("user-499", rule, 5)).allowed  # the recent ones still count
    clock.now = 10.0  # every log expired: the next hits sweep them out
    await limiter.hit("late", rule)
    assert len(limiter) == 1


# --- Redis: the same semantics, atomically, across replicas ---------------------------------


async def _replay(limiter: Limiter, key: str, steps: list[tuple[float, int]]) -> list[Decision]:
    """Hit ``key`` (5 units per 2 s) with each (seconds since start, cost) at its time."""
    start = time.monotonic()
    decisions = []
    for at, cost in steps:
        await asyncio.sleep(max(0.0, start + at - time.monotonic()))
        decisions.append(await limiter.hit(key, QuotaRule(5, 2.0), cost))
    return decisions


@pytest.mark.integration
async def test_redis_and_in_process_take_the_same_decisions(redis_limiter: RedisLimiter) -> None:
    """One timed sequence (5 units per 2 s, costs 1-6, hits spread so each wait names a
    different hit leaving the window) against both: the same answers, the expected waits."""
    steps = [(0.0, 2), (0.6, 2), (1.2, 1)]  # full: 2 + 2 + 1
    steps += [(1.4, 1), (1.4, 3), (1.4, 5), (1.4, 6)]  # wait for the 0.0, 0.6, 1.2 hits; never
    steps += [(2.2, 2), (2.3, 2), (2.3, 3)]  # the 0.0 hit left: 2 fit, then 0.6 and 1.2 must
    steps += [(3.4, 4), (3.4, 3)]  # the 2.2 hit holds 2 of 5 units until 4.2
    key = f"same-{uuid.uuid4().hex}"
    memory, remote = await asyncio.gather(
        _replay(MemoryLimiter(), key, steps), _replay(redis_limiter, key, steps)
    )
    allowed = [True, True, True, False, False, False, False, True, False, False, False, True]
    remaining = [3, 1, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0]
    retry_after = [None, None, None, 0.6, 1.2, 1.8, None, None, 0.3, 0.9, 0.8, None]
    reset = [0, 0, 0.8, 0.6, 0.6, 0.6, 0.6, 0.4, 0.3, 0.3, 0, 0.8]
    for decisions in (memory, remote):
        assert [d.allowed for d in decisions] == allowed
        assert [d.remaining for d in decisions] == remaining
        assert [d.exceeds_limit for d in decisions] == [d.cost == 6 for d in decisions]
        for decision, wait, one in zip(decisions, retry_after, reset, strict=True):
            expected = None if wait is None else pytest.approx(wait, abs=0.1)
            assert decision.retry_after_s == expected
            assert decision.reset_s == pytest.approx(one, abs=0.1)


@pytest.mark.integration
async def test_redis_keys_expire_with_the_window(
    redis_limiter: RedisLimiter, redis_url: str
) -> None:
    rule = QuotaRule(3, 0.3)
    key = redis_limiter.redis_key("ttl")
    await redis_limiter.hit("ttl", rule, 2)
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.zcard(key) == 1
        assert 0 < client.pttl(key) <= 300
        await asyncio.sleep(0.4)
        assert client.exists(key) == 0
    finally:
        client.close()
    assert (await redis_limiter.hit("ttl", rule, 3)).allowed


@pytest.mark.integration
async def test_redis_drops_expired_hits_pages_at_a_time(
    redis_limiter: RedisLimiter, redis_url: str
) -> None:
    """250 expired hits (the script drops them 100 at a time) free all their units."""
    rule = QuotaRule(1000, 3.0)
    for _ in range(10):
        await asyncio.gather(*(redis_limiter.hit("many", rule) for _ in range(25)))
    assert (await redis_limiter.peek("many", rule)).remaining == 750
    await asyncio.sleep(3.1)
    await redis_limiter.hit("many", rule, 2)  # keeps the key alive: the old hits are pruned
    assert (await redis_limiter.peek("many", rule)).remaining == 998
    client = redis.Redis.from_url(redis_url)
    try:
        assert client.zcard(redis_limiter.redis_key("many")) == 1
    finally:
        client.close()


@pytest.mark.integration
async def test_concurrent_hits_from_many_replicas_never_exceed_the_limit(redis_url: str) -> None:
    """4 replicas (own connection pools) x 60 tasks race for 50 units: exactly 50 allowed, and
    each allowed hit saw a different remaining count (the script ran one hit at a time)."""
    prefix = f"sextant:test:quota:{uuid.uuid4().hex[:8]}:"
    # A long timeout: this is about atomicity, and a burst of 240 on a busy machine can take
    # longer than the 0.5 s after which a replica would decide in process instead.
    replicas = [
        RedisLimiter(redis_url, fallback=MemoryLimiter(), prefix=prefix, timeout_s=10)
        for _ in range(4)
    ]
    fallbacks = _fallbacks()
    rule = QuotaRule(50, 60.0)
    try:
        decisions = await asyncio.gather(
            *(replica.hit("race", rule) for replica in replicas for _ in range(60))
        )
        allowed = [d for d in decisions if d.allowed]
        assert len(allowed) == 50
        assert sorted(d.remaining for d in allowed) == list(range(50))
        costs = [1, 2, 3] * 40
        decisions = await asyncio.gather(
            *(replicas[i % 4].hit("grid", rule, cost) for i, cost in enumerate(costs))
        )
        spent = sum(d.cost for d in decisions if d.allowed)
        assert 48 <= spent <= 50  # nothing fits after, not even a cost of 1, unless spent < 50
        assert (await replicas[0].peek("grid", rule)).remaining == 50 - spent
        assert _fallbacks() == fallbacks
    finally:
        for replica in replicas:
            await replica.close()
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()


HOSTILE = [
    "x" * 1_000_000,
    "ключ-🔑-鍵",
    "\ud800 lone surrogate",
    "a\r\nSET owned 1\r\n*",
    "{slot}:*?[]",
    "",
]


@pytest.mark.integration
async def test_hostile_subjects_are_hashed_to_separate_fixed_size_keys(
    redis_limiter: RedisLimiter, redis_url: str
) -> None:
    rule = QuotaRule(1, 60.0)
    memory = MemoryLimiter()
    for limiter in (redis_limiter, memory):
        for subject in HOSTILE:
            assert (await limiter.hit(subject, rule)).allowed, subject[:20]
        for subject in HOSTILE:
            assert not (await limiter.hit(subject, rule)).allowed, subject[:20]
    prefix = redis_limiter.redis_key("")[:-32]
    stored = _keys(redis_url, prefix)
    assert len(stored) == len(HOSTILE)
    assert {len(k) for k in stored} == {len(prefix) + 32}
    assert not any(b"owned" in k or b"\xd0" in k for k in stored)


# --- Redis down or hanging ------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _silent_server() -> AsyncIterator[int]:
    """A TCP server that accepts and never answers (a hung Redis); yields its port."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


@pytest.mark.parametrize("redis_is", ["refusing", "hanging"])
async def test_a_redis_outage_falls_back_in_time_and_still_limits(
    redis_is: str, caplog: pytest.LogCaptureFixture
) -> None:
    rule = QuotaRule(2, 60.0)
    fallbacks = _fallbacks()
    async with _silent_server() as silent_port:
        port = free_port() if redis_is == "refusing" else silent_port
        limiter = RedisLimiter(f"redis://127.0.0.1:{port}/0", fallback=MemoryLimiter())
        with caplog.at_level(logging.WARNING, logger="sextant_gateway.quota_redis"):
            started = time.monotonic()
            first = await limiter.hit("user", rule)
            assert time.monotonic() - started < 1.2  # timeout 0.5 s, no retries stacked
            decisions = [first] + [await limiter.hit("user", rule) for _ in range(3)]
        await limiter.close()
    assert [d.allowed for d in decisions] == [True, True, False, False]
    assert decisions[2].retry_after_s == pytest.approx(60.0, abs=1.0)
    warnings = [r for r in caplog.records if "unavailable" in r.getMessage()]
    assert len(warnings) == 1  # once per outage, not per request
    assert _fallbacks() == fallbacks + 4


@contextlib.contextmanager
def _redis_server(port: int) -> Iterator[None]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_port("127.0.0.1", port, 10), f"redis-server did not start on {port}"
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.integration
@pytest.mark.skipif(
    not (shutil.which("redis-server") or shutil.which("/usr/bin/redis-server")),
    reason="needs the redis-server binary",
)
async def test_redis_is_used_again_once_it_is_back(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    rule = QuotaRule(10, 60.0)
    limiter = RedisLimiter(f"redis://127.0.0.1:{port}/0", fallback=MemoryLimiter(), retry_s=0.2)
    caplog.set_level(logging.INFO, logger="sextant_gateway.quota_redis")
    try:
        with _redis_server(port):
            assert (await limiter.hit("u", rule, 4)).remaining == 6
        assert (await limiter.hit("u", rule, 1)).remaining == 9  # in process, from zero
        with _redis_server(port):  # a fresh, empty Redis
            await asyncio.sleep(0.3)
            assert (await limiter.hit("u", rule, 2)).remaining == 8
            client = redis.Redis(port=port)
            assert client.exists(limiter.redis_key("u")) == 1
            client.close()
    finally:
        await limiter.close()
    messages = [r.getMessage() for r in caplog.records]
    assert any("unavailable" in m for m in messages)
    assert any("is back" in m for m in messages)


# --- headers and what a route answers -------------------------------------------------------


def _decision(**fields: Any) -> Decision:
    allowed = Decision(
        allowed=True,
        limit=10,
        window_s=3600.0,
        cost=1,
        remaining=7,
        reset_s=0.0,
        retry_after_s=None,
    )
    return dataclasses.replace(allowed, **fields)


def test_headers_of_an_allowed_hit() -> None:
    assert quota_headers(_decision()) == {
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "7",
        "RateLimit-Reset": "0",
        "RateLimit-Policy": "10;w=3600",
    }


def test_headers_of_a_refused_hit_round_up() -> None:
    refused = _decision(allowed=False, cost=3, remaining=1, reset_s=0.0001, retry_after_s=1.2)
    assert quota_headers(refused) == {
        "RateLimit-Limit": "10",
        "RateLimit-Remaining": "1",
        "RateLimit-Reset": "1",
        "RateLimit-Policy": "10;w=3600",
        "Retry-After": "2",
    }
    exact = _decision(allowed=False, remaining=0, reset_s=3.0, retry_after_s=3.0)
    assert quota_headers(exact)["Retry-After"] == "3"
    never = _decision(allowed=False, cost=11, remaining=10, window_s=1.5)
    assert "Retry-After" not in quota_headers(never)
    assert quota_headers(never)["RateLimit-Policy"] == "10;w=2"


def _rejections(quota: str) -> float:
    return REGISTRY.get_sample_value("sextant_quota_rejections_total", {"quota": quota}) or 0.0


@pytest.fixture
def quota_app() -> Iterator[TestClient]:
    """A FastAPI app whose routes charge quotas the way the gateway's will."""
    settings = QuotaSettings(
        _env_file=None, quotas={"backtests": "2/hour", "sweeps": "100/hour", "login": "2/minute"}
    )
    app = FastAPI()
    app.state.quotas = Quotas.from_settings(settings)

    @app.post("/backtests")
    async def backtests(request: Request, response: Response) -> dict[str, str]:
        response.headers.update(await charge(request, "backtests", request.headers["x-user"]))
        return {"ok": "yes"}

    @app.post("/sweeps")
    async def sweeps(request: Request, response: Response, cells: int) -> dict[str, int]:
        response.headers.update(await charge(request, "sweeps", "ann", cells))
        return {"cells": cells}

    @app.post("/login")
    async def login(request: Request, password: str) -> dict[str, bool]:
        await check(request, "login", "ann")
        if password != "right":
            await charge(request, "login", "ann")
        return {"ok": password == "right"}

    with TestClient(app) as client:
        yield client


def test_a_spent_quota_is_a_429_naming_it_with_headers(quota_app: TestClient) -> None:
    before = _rejections("backtests")
    for remaining in ("1", "0"):
        ok = quota_app.post("/backtests", headers={"x-user": "ann"})
        assert ok.status_code == 200
        assert ok.headers["ratelimit-remaining"] == remaining
        assert ok.headers["ratelimit-policy"] == "2;w=3600"
    refused = quota_app.post("/backtests", headers={"x-user": "ann"})
    assert refused.status_code == 429, refused.text
    detail = refused.json()["detail"]
    assert "backtests" in detail and "2 per hour" in detail
    assert 3599 <= int(refused.headers["retry-after"]) <= 3600
    assert f"in {refused.headers['retry-after']} s" in detail
    assert refused.headers["ratelimit-remaining"] == "0"
    assert _rejections("backtests") == before + 1
    other = quota_app.post("/backtests", headers={"x-user": "bob"})  # per user
    assert other.status_code == 200
    assert quota_app.post("/sweeps", params={"cells": 1}).status_code == 200  # and per quota


def test_a_grid_larger_than_the_quota_is_a_422_not_a_429(quota_app: TestClient) -> None:
    before = _rejections("sweeps")
    assert quota_app.post("/sweeps", params={"cells": 70}).headers["ratelimit-remaining"] == "30"
    wait = quota_app.post("/sweeps", params={"cells": 40})
    assert wait.status_code == 429
    assert "has 30 left and this request costs 40" in wait.json()["detail"]
    never = quota_app.post("/sweeps", params={"cells": 101})
    assert never.status_code == 422, never.text
    assert "100 per hour" in never.json()["detail"] and "costs 101" in never.json()["detail"]
    assert "retry-after" not in never.headers
    assert _rejections("sweeps") == before + 2
    assert quota_app.post("/sweeps", params={"cells": 30}).status_code == 200


def test_check_spends_nothing_and_refuses_once_failures_are_spent(
    quota_app: TestClient,
) -> None:
    for _ in range(5):  # right passwords cost nothing
        assert quota_app.post("/login", params={"password": "right"}).json() == {"ok": True}
    for _ in range(2):
        assert quota_app.post("/login", params={"password": "wrong"}).status_code == 200
    locked = quota_app.post("/login", params={"password": "right"})
    assert locked.status_code == 429
    assert "login quota of 2 per minute" in locked.json()["detail"]


@pytest.mark.integration
async def test_from_settings_counts_in_redis_when_a_url_is_set(redis_url: str) -> None:
    settings = QuotaSettings(_env_file=None, redis_url=redis_url)
    quotas = Quotas.from_settings(settings)
    assert isinstance(quotas.limiter, RedisLimiter)
    subject = f"test-{uuid.uuid4().hex}"
    before = set(_keys(redis_url, "sextant:quota:"))
    new: set[bytes] = set()
    try:
        assert (await quotas.hit("backtests", subject)).remaining == 9
        assert (await quotas.peek("backtests", subject)).remaining == 9
        new = set(_keys(redis_url, "sextant:quota:")) - before
        assert len(new) == 1
        with pytest.raises(KeyError, match="configured: \\['agent'"):
            await quotas.hit("nope", subject)
    finally:
        await quotas.close()
        client = redis.Redis.from_url(redis_url)
        if new:
            client.delete(*new)
        client.close()
