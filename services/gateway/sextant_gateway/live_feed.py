"""Reads ``md.bars.v1``, ``quant.analytics.v1`` and ``jobs.events.v1`` for the gateway and hands
them to the WebSocket hub.

A :class:`~sextant_common.tail_consumer.TailConsumer`: every gateway replica sees every message,
from the live end. Bars known longer ago than the live window are a backfill passing through and
are not fanned out. Analytics go to the channel ``analytics:<instrument_id>``, job events to
``job:<job_id>``. An invalid analytics or job event is dead-lettered here (the gateway is those
topics' only consumer); an invalid bar is left to the datasets consumer, which keeps that topic
and dead-letters it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import orjson
from pydantic import ValidationError

from sextant_common import topics
from sextant_common.durable_consumer import Record
from sextant_common.events import Analytics, Bar, Event, JobEvent
from sextant_common.tail_consumer import Refusals, TailConsumer
from sextant_gateway.hub import LiveHub

CONSUMER_NAME = "gateway.live-feed"
"""``DeadLetter.consumer`` of the events this feed refuses."""


@dataclass(frozen=True)
class Route:
    """Where the events of one topic go: channel ``<channel>:<event's channel_field>``, as
    ``{"type": <message_type>, <message_field>: event}``."""

    model: type[Event]
    channel: str
    channel_field: str
    message_type: str
    message_field: str


ROUTES: Final[dict[str, Route]] = {
    topics.QUANT_ANALYTICS: Route(
        Analytics, "analytics", "instrument_id", "analytics", "analytics"
    ),
    topics.JOBS_EVENTS: Route(JobEvent, "job", "job_id", "job", "event"),
}
"""The topics fanned out besides bars (bars go to the channel named by the instrument id)."""


class LiveFeed:
    """Consumes bars and publishes the live ones to ``hub`` as ``{"type": "bar", ...}`` JSON."""

    def __init__(self, bootstrap: str, hub: LiveHub, live_window: timedelta) -> None:
        self._hub = hub
        self._live_window = live_window
        self._consumer = TailConsumer(
            bootstrap=bootstrap,
            topics=(topics.MD_BARS, *ROUTES),
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
            if record.topic in ROUTES:
                reason = self._forward_event(record.topic, record.value)
                if reason is not None:
                    refused.append((record, reason))
                await asyncio.sleep(0)
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

    def _forward_event(self, topic: str, value: bytes | None) -> str | None:
        """Publish an event of a routed topic to its channel's subscribers; the reason the
        event is invalid, if it is (every event is checked, watched or not)."""
        route = ROUTES[topic]
        try:
            event = route.model.model_validate_json(value or b"")
        except (ValidationError, ValueError) as exc:
            return f"{type(exc).__name__}: {exc}"
        channel = f"{route.channel}:{getattr(event, route.channel_field)}"
        if self._hub.wants(channel):
            payload = {
                "type": route.message_type,
                route.message_field: event.model_dump(mode="json"),
            }
            self._hub.publish(channel, orjson.dumps(payload).decode())
        return None
