"""Consumes ``jobs.requests.v1`` for the kinds this service handles and reports on
``jobs.events.v1``: queued -> running -> succeeded | failed.

Delivery is at-least-once: a request redelivered after a crash is skipped when the store already
holds its final event, so a finished job never runs twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import ValidationError

from sextant_common import topics
from sextant_common.events import JobEvent, JobRequest, JobStatus
from sextant_quant.jobs.store import JobStore

log = logging.getLogger(__name__)

Progress = Callable[[float, str], Awaitable[None]]
Handler = Callable[[dict[str, Any], Progress], Awaitable[dict[str, Any]]]

FINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED)


class JobRunner:
    """Runs job requests of ``handlers``' kinds, one at a time, in a consumer group."""

    def __init__(
        self, bootstrap: str, group_id: str, store: JobStore, handlers: Mapping[str, Handler]
    ) -> None:
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._store = store
        self._handlers = handlers
        self._producer: AIOKafkaProducer | None = None
        self.running = False

    async def submit(self, request: JobRequest) -> JobEvent:
        """Record the job as queued and publish its request; return the queued event."""
        queued = self._event(request, JobStatus.QUEUED)
        self._store.put(queued)
        await self._send(topics.JOBS_REQUESTS, request.key, request.to_bytes())
        await self._send(topics.JOBS_EVENTS, queued.key, queued.to_bytes())
        return queued

    async def run(self) -> None:
        """Consume requests until cancelled."""
        self._producer = AIOKafkaProducer(bootstrap_servers=self._bootstrap)
        consumer = AIOKafkaConsumer(
            topics.JOBS_REQUESTS,
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await self._producer.start()
        await consumer.start()
        self.running = True
        try:
            async for record in consumer:
                await self._handle(record.value or b"")
                await consumer.commit()
        finally:
            self.running = False
            await consumer.stop()
            await self._producer.stop()

    async def _handle(self, raw: bytes) -> None:
        try:
            request = JobRequest.model_validate_json(raw)
        except ValidationError as exc:
            log.warning("invalid job request skipped", extra={"error": str(exc)[:300]})
            return
        handler = self._handlers.get(request.kind)
        previous = self._store.get(request.job_id)
        if handler is None or (previous is not None and previous.status in FINAL):
            return

        async def progress(fraction: float, message: str) -> None:
            await self._publish(self._event(request, JobStatus.RUNNING, fraction, message))

        await progress(0.0, "started")
        try:
            result = await handler(request.params, progress)
        except ValueError as exc:  # bad parameters or data: the caller's to fix
            await self._publish(self._event(request, JobStatus.FAILED, error=str(exc)))
        except Exception as exc:  # a bug: report it, keep serving other jobs
            log.exception("job crashed", extra={"job_id": request.job_id})
            failure = f"internal error: {exc.__class__.__name__}: {exc}"
            await self._publish(self._event(request, JobStatus.FAILED, error=failure))
        else:
            await self._publish(self._event(request, JobStatus.SUCCEEDED, 1.0, result=result))

    async def _publish(self, event: JobEvent) -> None:
        self._store.put(event)
        await self._send(topics.JOBS_EVENTS, event.key, event.to_bytes())

    async def _send(self, topic: str, key: bytes, value: bytes) -> None:
        if self._producer is None:
            raise RuntimeError("job runner not started")
        with contextlib.suppress(asyncio.CancelledError):
            await self._producer.send_and_wait(topic, value, key=key)

    @staticmethod
    def _event(
        request: JobRequest,
        status: JobStatus,
        progress: float = 0.0,
        message: str = "",
        *,
        result: dict[str, Any] | None = None,
        error: str | None = None,
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
        )
