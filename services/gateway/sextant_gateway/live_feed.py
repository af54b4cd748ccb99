"""Reads ``md.bars.v1`` for the gateway and hands live bars to the WebSocket hub.

Every gateway replica must see every bar, so this consumer has no group and starts at the end
of the topic. Bars known longer ago than the live window are a backfill passing through and are
not fanned out.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import orjson
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from sextant_common import topics
from sextant_common.events import Bar
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
            bootstrap_servers=self._bootstrap,
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            fetch_max_wait_ms=20,  # latency over batching: the broker answers a fetch quickly
        )
        await consumer.start()
        self.running = True
        try:
            while True:
                fetched = await consumer.getmany(timeout_ms=500, max_records=5_000)
                cutoff = datetime.now(UTC) - self._live_window
                for records in fetched.values():
                    for record in records:
                        if self._forward(record.key, record.value, cutoff):
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
