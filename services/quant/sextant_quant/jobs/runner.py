"""Consumes ``jobs.requests.v1`` for the kinds this service handles and reports on
``jobs.events.v1``: queued -> running -> succeeded | failed.

Delivery is at-least-once: a request redelivered after a crash is skipped when the store already
holds its final event, so a finished job never runs twice. A request that is not a valid
:class:`JobRequest`, or names a kind no handler runs, goes to ``dlq.v1`` with the reason, its
key and headers. Each request is handled in a consumer span, the child of the span that
published it (its ``traceparent`` header): the job's events continue the request's trace.

One job never stops the runner: whatever goes wrong inside a job (bad parameters, a bug, a result
that cannot be serialized, an event the broker refuses) ends that job with a ``failed`` event
naming the reason. A result larger than ``inline_result_max_bytes`` never travels in an event: it
is written to the job store and the final event carries ``result_ref`` and a small
``result_summary`` (the owner's ``GET`` of the job returns the full result). If the consumer loop
itself fails (broker gone, commit refused), it is logged, :attr:`JobRunner.running` turns False
(``/health`` reports it) and the loop restarts with exponential backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from prometheus_client import Counter, Histogram
from pydantic import ValidationError

from sextant_common import kafka_security, topics, tracecontext, tracing
from sextant_common.bus_metrics import ConsumerMetrics
from sextant_common.durable_consumer import dead_letter, send_dead_letters
from sextant_common.events import Event, JobEvent, JobRequest, JobStatus
from sextant_common.producer import EventProducer
from sextant_quant.jobs.store import JobStore

log = logging.getLogger(__name__)

Progress = Callable[[float, str], Awaitable[None]]
Handler = Callable[[dict[str, Any], Progress], Awaitable[dict[str, Any]]]

FINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED)
SUMMARY_VALUE_MAX_BYTES = 1_024
"""A top-level result entry at most this large (as JSON) is copied into ``result_summary``."""

JOBS_RUN = Counter(
    "sextant_quant_jobs_run_total",
    "Jobs this replica ran to a final state, by kind and status.",
    ["kind", "status"],
)
JOB_DURATION = Histogram(
    "sextant_job_duration_seconds",
    "Seconds from a job's start to its final state, by kind and final status",
    ["kind", "status"],
    buckets=(0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0),
)


def describe(exc: BaseException) -> str:
    """``"TypeName: message"``, never an empty string (``httpx.ConnectTimeout()`` has none)."""
    text = str(exc).strip()
    return f"{exc.__class__.__name__}: {text}" if text else f"{exc.__class__.__name__} (no detail)"


class JobQueueFull(RuntimeError):
    """Too many jobs wait to start; try again after ``retry_after_s`` seconds."""

    def __init__(self, pending: int, retry_after_s: int) -> None:
        super().__init__(
            f"job queue full: {pending} jobs are waiting to start; retry after {retry_after_s} s"
        )
        self.retry_after_s = retry_after_s


class RunnerUnavailable(RuntimeError):
    """The runner is (re)starting or cannot reach the broker; try again later."""

    def __init__(self, reason: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


def _serialize(result: dict[str, Any]) -> bytes:
    # orjson writes numpy arrays directly (no tolist) and NaN/inf as null, like pydantic does.
    return orjson.dumps(result, option=orjson.OPT_SERIALIZE_NUMPY)


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    small: dict[str, Any] = {}
    for name, value in result.items():
        payload = _serialize({name: value})
        if len(payload) <= SUMMARY_VALUE_MAX_BYTES:
            small.update(orjson.loads(payload))
    return small


class JobRunner:
    """Runs job requests of ``handlers``' kinds, one at a time, in a consumer group.

    ``queue_max`` bounds the jobs that wait to start; :meth:`submit` raises :class:`JobQueueFull`
    beyond it. The store counts them (:meth:`JobStore.enqueue`): across every replica with the
    Redis store, in this process with the file store. A job no runner takes within
    ``pending_ttl_s`` (its request lost) stops counting then.
    """

    def __init__(
        self,
        bootstrap: str,
        group_id: str,
        store: JobStore,
        handlers: Mapping[str, Handler],
        *,
        queue_max: int = 16,
        inline_result_max_bytes: int = 256 * 1024,
        restart_backoff_s: tuple[float, float] = (1.0, 30.0),
        pending_ttl_s: float = 1_800.0,
    ) -> None:
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._store = store
        self._handlers = handlers
        self._queue_max = queue_max
        self._inline_max = inline_result_max_bytes
        self._backoff_min, self._backoff_max = restart_backoff_s
        self._pending_ttl_s = pending_ttl_s
        self._durations: deque[float] = deque(maxlen=20)
        self._producer: EventProducer | None = None
        self.running = False
        self.restarts = 0
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        """Jobs submitted that have not started yet (all replicas' with the Redis store)."""
        return self._store.waiting(self._pending_ttl_s)

    def retry_after_s(self) -> int:
        """Seconds until a slot is likely free: the mean of recent job durations times the
        jobs waiting, between 1 and 300."""
        mean = sum(self._durations) / len(self._durations) if self._durations else 5.0
        return int(min(300, max(1, math.ceil(mean * max(1, self.pending)))))

    async def submit(self, request: JobRequest) -> JobEvent:
        """Record the job as queued and publish its request; return the queued event.

        Raises :class:`JobQueueFull` when ``queue_max`` jobs wait already and
        :class:`RunnerUnavailable` when the request cannot be published.
        """
        producer = self._producer
        if producer is None or not self.running:
            raise RunnerUnavailable(
                "the job runner is restarting"
                + (f" after: {self.last_error}" if self.last_error else ""),
                retry_after_s=int(self._backoff_max),
            )
        waiting = self._store.enqueue(request.job_id, self._queue_max, self._pending_ttl_s)
        if waiting is not None:
            raise JobQueueFull(waiting, self.retry_after_s())
        queued = self._event(request, JobStatus.QUEUED)
        self._store.put(queued)
        try:
            # Shielded: a client that disconnects mid-submit must not leave half a job.
            await asyncio.shield(self._submit_records(producer, request, queued))
        except Exception as exc:
            self._store.dequeue(request.job_id)
            reason = f"could not publish the job request: {describe(exc)}"
            self._store.put(self._event(request, JobStatus.FAILED, error=reason))
            raise RunnerUnavailable(reason, retry_after_s=int(self._backoff_min) + 1) from exc
        return queued

    @staticmethod
    async def _submit_records(
        producer: EventProducer, request: JobRequest, queued: JobEvent
    ) -> None:
        await producer.publish([request, queued])

    async def run(self) -> None:
        """Consume requests until cancelled; restart the consumer (with backoff) if it fails."""
        backoff = self._backoff_min
        while True:
            started = time.monotonic()
            try:
                await self._consume()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = describe(exc)
                self.restarts += 1
                log.exception(
                    "job runner stopped; restarting",
                    extra={"error": self.last_error, "backoff_s": backoff},
                )
            if time.monotonic() - started > 60:
                backoff = self._backoff_min  # it ran fine for a while: a fresh failure
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._backoff_max)

    async def _consume(self) -> None:
        # Raw aiokafka: one job at a time, its offset committed only once the job's final event
        # is stored and published, inside the restart-with-backoff loop that /health reports.
        producer = EventProducer(self._bootstrap)
        consumer = AIOKafkaConsumer(
            topics.JOBS_REQUESTS,
            bootstrap_servers=self._bootstrap,
            **kafka_security.client_options(),
            group_id=self._group_id,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        metrics = ConsumerMetrics(self._group_id)
        try:
            await producer.start()
            await consumer.start()
            self._producer = producer
            self.running = True
            async for record in consumer:
                partition = TopicPartition(record.topic, record.partition)
                metrics.fetched(consumer, {partition: [record]})
                with tracing.consumer_span(
                    record.topic,
                    tracecontext.from_headers(record.headers),
                    self._group_id,
                    offset=record.offset,
                ):
                    await self._handle(record)
                await consumer.commit()
        finally:
            self.running = False
            self._producer = None
            for part in (consumer, producer):
                with contextlib.suppress(Exception):
                    await part.stop()

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        try:
            request = JobRequest.model_validate_json(record.value or b"")
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(record, f"{type(exc).__name__}: {exc}")
            return
        handler = self._handlers.get(request.kind)
        if handler is None:
            known = ", ".join(sorted(self._handlers))
            await self._dead_letter(record, f"unknown job kind {request.kind!r} (known: {known})")
            return
        previous = self._store.get(request.job_id)
        self._store.dequeue(request.job_id)
        if previous is not None and previous.status in FINAL:
            return

        async def progress(fraction: float, message: str) -> None:
            event = self._event(request, JobStatus.RUNNING, fraction, message)
            self._store.put(event)
            try:
                await self._send(event)
            except Exception as exc:  # progress is advisory: the final event decides
                log.warning("progress event not published", extra={"error": describe(exc)})

        started = time.monotonic()
        try:
            await progress(0.0, "started")
            result = await handler(request.params, progress)
            final = await self._succeeded(request, result)
        except ValueError as exc:  # bad parameters or data: the caller's to fix
            final = self._event(request, JobStatus.FAILED, error=describe_value_error(exc))
        except Exception as exc:  # a bug: report it, keep serving other jobs
            log.exception("job crashed", extra={"job_id": request.job_id})
            failure = f"internal error: {describe(exc)}"
            final = self._event(request, JobStatus.FAILED, error=failure)
        elapsed = time.monotonic() - started
        self._durations.append(elapsed)
        await self._finish(request, final)
        JOBS_RUN.labels(kind=request.kind, status=final.status.value).inc()
        JOB_DURATION.labels(kind=request.kind, status=final.status.value).observe(elapsed)

    async def _succeeded(self, request: JobRequest, result: dict[str, Any]) -> JobEvent:
        """The final event of a job that returned ``result``: inline when small, else stored."""
        try:
            payload = await asyncio.to_thread(_serialize, result)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the job's result could not be serialized: {describe(exc)}") from exc
        if len(payload) <= self._inline_max:
            return self._event(request, JobStatus.SUCCEEDED, 1.0, result=orjson.loads(payload))
        ref = await asyncio.to_thread(self._store.put_result, request.job_id, payload)
        summary = await asyncio.to_thread(_summary, result)
        return self._event(
            request,
            JobStatus.SUCCEEDED,
            1.0,
            f"result stored ({len(payload):,} bytes, too large for an event): GET the job for it",
            result_ref=ref,
            result_summary=summary,
        )

    async def _finish(self, request: JobRequest, final: JobEvent) -> None:
        """Store and publish ``final``; if the broker refuses it, the job fails saying why."""
        self._store.put(final)
        try:
            await self._send(final)
        except Exception as exc:
            log.exception("final job event not published", extra={"job_id": request.job_id})
            if final.status is not JobStatus.SUCCEEDED:
                return  # stored; nothing better to say on the bus
            failed = self._event(
                request,
                JobStatus.FAILED,
                error=f"could not publish the job's result event: {describe(exc)}",
            )
            self._store.put(failed)
            with contextlib.suppress(Exception):
                await self._send(failed)

    async def _send(self, event: Event) -> None:
        """Publish ``event`` and wait for the broker's acknowledgement."""
        if self._producer is None:
            raise RuntimeError("job runner not started")
        await self._producer.publish([event])

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        """Send a request the runner cannot run to ``dlq.v1`` (before its offset is committed)."""
        if self._producer is None:
            raise RuntimeError("job runner not started")
        await send_dead_letters(self._producer, [dead_letter(record, self._group_id, reason)])

    @staticmethod
    def _event(
        request: JobRequest,
        status: JobStatus,
        progress: float = 0.0,
        message: str = "",
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
        result_ref: str | None = None,
        result_summary: dict[str, Any] | None = None,
    ) -> JobEvent:
        return JobEvent(
            job_id=request.job_id,
            kind=request.kind,
            status=status,
            progress=progress,
            message=message,
            result=result,
            error=error,
            ts=datetime.now(UTC),
            result_ref=result_ref,
            result_summary=result_summary,
        )


def describe_value_error(exc: ValueError) -> str:
    """The caller-facing text of a ValueError: its message, or its type when it has none."""
    return str(exc).strip() or describe(exc)
