"""`/health` (liveness), `/ready` (readiness) and `/metrics` for every service's FastAPI app.

Liveness and readiness answer different questions and an orchestrator acts on them differently:

- ``GET /health``: is the process making progress (event loop answering, background tasks alive)?
  A failing liveness check gets the process restarted, so it must not depend on other services:
  a broker outage must not restart every service at once.
- ``GET /ready``: can it serve its API correctly right now (dependencies reachable, its own state
  loaded)? A failing readiness check only takes it out of the load balancer (and, in `make run`,
  holds back "Sextant is up").

Both answer 200 when every check passes, else 503; the JSON body names every check, lists the
failing ones and carries each check's detail (e.g. the Kafka offsets a readiness check compared).

:func:`add_health_and_metrics` also names the process's service in its log lines and traces and
installs :class:`~sextant_common.request_telemetry.RequestTelemetry` (request ids, access lines,
server spans, HTTP metrics) as the app's outermost middleware: call it after every other
``add_middleware``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from sextant_common import kafka_security, tracing
from sextant_common.logging_setup import set_service
from sextant_common.request_telemetry import RequestTelemetry


@dataclass(frozen=True)
class CheckResult:
    """Outcome of one check: pass/fail plus what it looked at (JSON-serializable)."""

    ok: bool
    detail: Mapping[str, Any] = field(default_factory=dict)


CheckOutcome = bool | CheckResult
HealthCheck = Callable[[], Awaitable[CheckOutcome] | CheckOutcome]
"""A liveness or readiness check: sync or async, returning a bool or a :class:`CheckResult`."""

CHECK_TIMEOUT_S = 2.5
"""A check that takes longer fails: checks run concurrently, within deploy/k8s's 3 s probes."""


async def run_checks(checks: Mapping[str, HealthCheck]) -> tuple[bool, dict[str, Any]]:
    """Run ``checks`` concurrently; return whether all passed and the body's check fields.

    A check that raises or takes longer than ``CHECK_TIMEOUT_S`` fails with the error as its
    detail instead of failing the endpoint with a 500.
    """
    outcomes = await asyncio.gather(*(_run_check(check) for check in checks.values()))
    results: dict[str, bool] = {}
    details: dict[str, Any] = {}
    for name, outcome in zip(checks, outcomes, strict=True):
        results[name] = outcome.ok
        if outcome.detail:
            details[name] = dict(outcome.detail)
    failing = [name for name, ok in results.items() if not ok]
    return not failing, {"checks": results, "failing": failing, "detail": details}


async def _run_check(check: HealthCheck) -> CheckResult:
    try:
        outcome = check()
        if isinstance(outcome, Awaitable):
            outcome = await asyncio.wait_for(outcome, CHECK_TIMEOUT_S)
    except Exception as exc:  # a broken check reports itself, it does not 500 the probe
        return CheckResult(False, {"error": f"{exc.__class__.__name__}: {exc}"})
    return outcome if isinstance(outcome, CheckResult) else CheckResult(bool(outcome))


def add_health_and_metrics(
    app: FastAPI,
    service: str,
    live_checks: Mapping[str, HealthCheck],
    ready_checks: Mapping[str, HealthCheck] | None = None,
) -> None:
    """Mount ``GET /health`` (liveness: ``live_checks``), ``GET /ready`` (readiness: the liveness
    checks plus ``ready_checks``; a process that is not alive is not ready either) and
    ``GET /metrics`` (Prometheus text format); name the process ``service`` in logs and traces
    and install the request telemetry middleware (see the module docstring)."""
    set_service(service)
    tracing.configure(service)
    app.add_middleware(RequestTelemetry, service=service)
    all_ready_checks = {**live_checks, **(ready_checks or {})}

    @app.get("/health", include_in_schema=False)
    async def health() -> Response:
        ok, fields = await run_checks(live_checks)
        return _json({"service": service, "status": "ok" if ok else "degraded", **fields}, ok)

    @app.get("/ready", include_in_schema=False)
    async def ready() -> Response:
        ok, fields = await run_checks(all_ready_checks)
        return _json({"service": service, "status": "ready" if ok else "not_ready", **fields}, ok)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _json(body: dict[str, Any], ok: bool) -> Response:
    return Response(
        orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS),
        status_code=200 if ok else 503,
        media_type="application/json",
    )


@dataclass(frozen=True)
class TopicOffsets:
    """Per partition of one topic: the end offsets (next offset to be written) and, when asked
    for a consumer group, the offsets that group will resume from (0 where it never committed)."""

    end: dict[int, int]
    committed: dict[int, int]


async def read_offsets(bootstrap: str, topic: str, group_id: str | None = None) -> TopicOffsets:
    """Ask the broker for ``topic``'s end offsets and ``group_id``'s committed ones.

    A short-lived client that never joins the group (manual assignment), so asking for the
    datasets group's commits does not rebalance the real consumer. One connection per call keeps
    probes free of state that a broker restart could leave stale; it costs a few milliseconds.

    The end offsets are the high-water marks of a fetch, not ListOffsets(latest): tansu answers
    the latter with the base offset of a partition's last batch, short of the true end by up to
    a batch (hundreds of records after a backfill).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        **kafka_security.client_options(),
        group_id=group_id,
        enable_auto_commit=False,
        request_timeout_ms=2_500,
        fetch_max_wait_ms=20,
        max_partition_fetch_bytes=64 * 1024,
    )
    await consumer.start()
    try:
        found = consumer.partitions_for_topic(topic)
        if not found:
            await consumer.topics()  # refreshes the metadata of every topic
            found = consumer.partitions_for_topic(topic) or set()
        partitions = [TopicPartition(topic, p) for p in sorted(found)]
        end = await _high_water_marks(consumer, partitions)
        committed = {}
        if group_id is not None:
            committed = {tp.partition: int(await consumer.committed(tp) or 0) for tp in partitions}
        return TopicOffsets(end, committed)
    finally:
        await consumer.stop()


async def _high_water_marks(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], timeout_s: float = 2.0
) -> dict[int, int]:
    if not partitions:
        return {}
    listed = await consumer.end_offsets(partitions)
    consumer.assign(partitions)
    for tp in partitions:
        consumer.seek(tp, listed[tp])
    deadline = asyncio.get_running_loop().time() + timeout_s
    while any(consumer.highwater(tp) is None for tp in partitions):
        if asyncio.get_running_loop().time() > deadline:
            missing = [tp.partition for tp in partitions if consumer.highwater(tp) is None]
            raise TimeoutError(f"no fetch answer for {partitions[0].topic} partitions {missing}")
        await consumer.getmany(timeout_ms=50, max_records=1)
    return {
        tp.partition: max(int(listed[tp]), int(consumer.highwater(tp) or 0)) for tp in partitions
    }


def behind(position: Mapping[int, int], target: Mapping[int, int]) -> dict[int, int]:
    """Per partition, how many records ``position`` still lacks to reach ``target`` (only the
    partitions that lag)."""
    return {p: end - position.get(p, 0) for p, end in target.items() if position.get(p, 0) < end}


class CaughtUp:
    """Readiness of a consumer group on ``topic``: it has committed up to the end offsets the topic
    had at the first check after start-up (its backlog is durable), and stays ready from then on.

    The detail always reports the group's current committed offsets, so a caller that knows what
    was published (`make run`, from ingest's ``/ready``) can wait for exactly those.
    """

    def __init__(self, bootstrap: str, topic: str, group_id: str) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._group_id = group_id
        self._target: dict[int, int] | None = None
        self._caught_up = False

    async def __call__(self) -> CheckResult:
        offsets = await read_offsets(self._bootstrap, self._topic, self._group_id)
        if self._target is None:
            self._target = offsets.end
        lag = behind(offsets.committed, self._target)
        self._caught_up = self._caught_up or not lag
        detail = {"committed": offsets.committed, "start_end_offsets": self._target, "lag": lag}
        return CheckResult(self._caught_up, detail)


class PublishedOnce:
    """Readiness of a producer's initial publish (e.g. ingest's history backfill).

    Once ``done()``, records ``topic``'s end offsets (everything that publish wrote lies below
    them) and reports them with ``published`` (e.g. the instruments), so a caller can wait until
    a consumer group has committed that far.
    """

    def __init__(
        self,
        done: Callable[[], bool],
        bootstrap: str,
        topic: str,
        published: Mapping[str, Any] | None = None,
    ) -> None:
        self._done = done
        self._bootstrap = bootstrap
        self._topic = topic
        self._published = dict(published or {})
        self._end_offsets: dict[int, int] | None = None

    async def __call__(self) -> CheckResult:
        if not self._done():
            return CheckResult(False, {"published": "in progress"})
        if self._end_offsets is None:
            self._end_offsets = (await read_offsets(self._bootstrap, self._topic)).end
        return CheckResult(True, {**self._published, "end_offsets": self._end_offsets})


def http_ok(url: str, timeout_s: float = 2.0) -> HealthCheck:
    """A readiness check on a service this one calls: ``GET url`` answers 200 (use its
    ``/health``, not its ``/ready``, so one slow dependency does not cascade through the graph)."""

    async def check() -> CheckResult:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            status = (await client.get(url)).status_code
        return CheckResult(status == 200, {"url": url, "status": status})

    return check
