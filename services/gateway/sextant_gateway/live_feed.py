"""Reads ``md.bars.v1`` and ``jobs.events.v1`` for the gateway and hands them to the WebSocket hub.

A :class:`~sextant_common.tail_consumer.TailConsumer`: every gateway replica sees every message,
from the live end. Bars known longer ago than the live window are a backfill passing through and
are not fanned out. Job events go to the channel ``job:<job_id>``. An invalid job event is
dead-lettered here (the gateway is the topic's only consumer); an invalid bar is left to the
datasets consumer, which keeps that topic and dead-letters it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import orjson
from pydantic import ValidationError

from sextant_common import topics
from sextant_common.durable_consumer import Record
from sextant_common.events import Bar, JobEvent
from sextant_common.tail_consumer import Refusals, TailConsumer
from sextant_gateway.hub import LiveHub

CONSUMER_NAME = "gateway.live-feed"
"""``DeadLetter.consumer`` of the job events this feed refuses."""


class LiveFeed:
    """Consumes bars and publishes the live ones to ``hub`` as ``{"type": "bar", ...}`` JSON."""

    def __init__(self, bootstrap: str, hub: LiveHub, live_window: timedelta) -> None:
        self._hub = hub
        self._live_window = live_window
        self._consumer = TailConsumer(
            bootstrap=bootstrap,
            topics=(topics.MD_BARS, topics.JOBS_EVENTS),
            name=CONSUMER_NAME,
            handle=self._handle,
        )

    @property
    def running(self) -> bool:
        """Whether the consumer is connected and reading."""
        return self._consumer.running

    async def run(self) -> None:
        """Consume until cancelled."""
        await self._consumer.run()

    async def _handle(self, records: list[Record]) -> Refusals:
        cutoff = datetime.now(UTC) - self._live_window
        refused: list[tuple[Record, str]] = []
        for record in records:
            if record.topic == topics.JOBS_EVENTS:
                reason = self._forward_job(record.key, record.value)
                if reason is not None:
                    refused.append((record, reason))
            elif self._forward(record.key, record.value, cutoff):
                # Let the client writers run between bars: a fetched burst is spread over the
                # queues instead of landing in them all at once.
                await asyncio.sleep(0)
        return refused

    def _forward(self, key: bytes | None, value: bytes | None, cutoff: datetime) -> bool:
        """Publish one bar to its subscribers; True if anyone was offered it."""
        if not key or not value or not self._hub.wants(key.decode(errors="replace")):
            return False
        try:
            bar = Bar.model_validate_json(value)
        except (ValidationError, ValueError):
            return False  # the datasets consumer dead-letters it; the browser never sees it
        if bar.ts_known < cutoff:
            return False
        message = orjson.dumps({"type": "bar", "bar": bar.model_dump(mode="json")}).decode()
        return self._hub.publish(bar.instrument_id, message) > 0

    def _forward_job(self, key: bytes | None, value: bytes | None) -> str | None:
        """Publish a job event to the subscribers of ``job:<job_id>``; the reason it is invalid,
        if it is (every job event is checked, watched or not)."""
        try:
            event = JobEvent.model_validate_json(value or b"")
        except (ValidationError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        channel = f"job:{event.job_id}"
        if self._hub.wants(channel):
            message = orjson.dumps({"type": "job", "event": event.model_dump(mode="json")})
            self._hub.publish(channel, message.decode())
        return None
