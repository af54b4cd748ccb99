"""Reads ``md.bars.v1`` and ``jobs.events.v1`` for the gateway and hands them to the WebSocket hub.

Every gateway replica must see every message, so this consumer has no group and starts at the
end of the topics. Bars known longer ago than the live window are a backfill passing through and
are not fanned out. Job events go to the channel ``job:<job_id>``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import orjson
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from sextant_common import topics
from sextant_common.events import Bar, JobEvent
from sextant_gateway.hub import LiveHub

log = logging.getLogger(__name__)


class LiveFeed:
    """Consumes bars and publishes the live ones to ``hub`` as ``{"type": "bar", ...}`` JSON."""

    def __init__(self, bootstrap: str, hub: LiveHub, live_window: timedelta) -> None:
        self._bootstrap = bootstrap
        self._hub = hub
        self._live_window = live_window
        self.running = False

    async def run(self) -> None:
        """Consume until cancelled."""
        consumer = AIOKafkaConsumer(
            topics.MD_BARS,
            topics.JOBS_EVENTS,
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=5,  # latency over batching: the broker answers a fetch quickly
        )
        await consumer.start()
        self.running = True
        try:
            while True:
                fetched = await consumer.getmany(timeout_ms=500, max_records=5_000)
                cutoff = datetime.now(UTC) - self._live_window
                for partition, records in fetched.items():
                    forward = self._forward_job if partition.topic == topics.JOBS_EVENTS else None
                    for record in records:
                        if forward is not None:
                            forward(record.key, record.value)
                        elif self._forward(record.key, record.value, cutoff):
                            # Let the client writers run between bars: a fetched burst is spread
                            # over the queues instead of landing in them all at once.
                            await asyncio.sleep(0)
        finally:
            self.running = False
            await consumer.stop()

    def _forward(self, key: bytes | None, value: bytes | None, cutoff: datetime) -> bool:
        """Publish one record to its subscribers; True if anyone was offered it."""
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

    def _forward_job(self, key: bytes | None, value: bytes | None) -> None:
        """Publish a job event to the subscribers of ``job:<job_id>``."""
        channel = f"job:{(key or b'').decode(errors='replace')}"
        if not value or not self._hub.wants(channel):
            return
        try:
            event = JobEvent.model_validate_json(value)
        except (ValidationError, ValueError):
            return
        message = orjson.dumps({"type": "job", "event": event.model_dump(mode="json")}).decode()
        self._hub.publish(channel, message)
