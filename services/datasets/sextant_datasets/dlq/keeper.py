"""The ``dlq.v1`` consumer: every dead letter stored in the :class:`DeadLetterStore`, offsets
committed only once the rows are durable.

Raw aiokafka, like the bar sink and for the same reason: the offsets of exactly the records just
written must be committed after the write, which a FastStream subscriber's auto-ack does not
give. It runs in its own consumer group, so keeping the DLQ never delays the bars. A record on
``dlq.v1`` that is not a valid :class:`DeadLetter` is not dropped and not dead-lettered again (a
loop): it is stored as a dead letter of ``dlq.v1`` itself, its raw bytes, key and headers kept.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from prometheus_client import Counter
from pydantic import ValidationError

from sextant_common import topics
from sextant_common.events import DLQ_HEADER_PREFIX, DeadLetter
from sextant_datasets.dlq.store import DeadLetterStore

log = logging.getLogger(__name__)

LETTERS_KEPT = Counter("sextant_dlq_letters_kept_total", "Dead letters stored")
LETTERS_REPEATED = Counter("sextant_dlq_letters_repeated_total", "Dead letters already stored")


class DeadLetterKeeper:
    """Consumes ``dlq.v1`` in group ``group_id`` and stores every dead letter in ``store``."""

    def __init__(self, *, bootstrap: str, group_id: str, store: DeadLetterStore) -> None:
        self._bootstrap = bootstrap
        self._group_id = group_id
        self._store = store
        self.running = False

    async def run(self) -> None:
        """Consume until cancelled."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        consumer.subscribe([topics.DLQ])
        await consumer.start()
        self.running = True
        try:
            while True:
                fetched = await consumer.getmany(timeout_ms=500, max_records=1000)
                records = [r for batch in fetched.values() for r in batch]
                if not records:
                    continue
                await self.keep(records)
                offsets = {
                    TopicPartition(tp.topic, tp.partition): batch[-1].offset + 1
                    for tp, batch in fetched.items()
                    if batch
                }
                try:
                    await consumer.commit(offsets)
                except KafkaError as exc:
                    # Stored already; whoever re-reads these finds them stored and skips them.
                    log.warning("dlq offset commit failed", extra={"error": str(exc)})
        finally:
            self.running = False
            await consumer.stop()

    async def keep(self, records: list[ConsumerRecord[bytes, bytes]]) -> None:
        """Store the dead letters of ``records`` durably (returns once they are on disk)."""
        letters = [self._letter(record) for record in records]
        new = await asyncio.to_thread(self._store.add, letters)
        LETTERS_KEPT.inc(new)
        LETTERS_REPEATED.inc(len(letters) - new)

    def _letter(self, record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
        try:
            return DeadLetter.model_validate_json(record.value or b"")
        except (ValidationError, ValueError) as exc:
            log.warning("unreadable record on dlq.v1", extra={"offset": record.offset})
            return DeadLetter.for_record(
                topic=record.topic or topics.DLQ,
                partition=record.partition or 0,
                offset=record.offset or 0,
                consumer=self._group_id,
                error=f"not a DeadLetter: {type(exc).__name__}: {exc}",
                raw=record.value or b"",
                key=record.key,
                headers=[
                    (name, value)
                    for name, value in record.headers or ()
                    if not name.startswith(DLQ_HEADER_PREFIX)
                ],
            )
