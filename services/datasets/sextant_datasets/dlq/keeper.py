"""The ``dlq.v1`` consumer: every dead letter stored in the :class:`DeadLetterStore`.

A :class:`~sextant_common.durable_consumer.DurableConsumer` like the lake's sinks, in its own
consumer group so keeping the DLQ never delays the bars. A record on ``dlq.v1`` that is not a
valid :class:`DeadLetter` is not dropped and not dead-lettered again (a loop): it is stored as a
dead letter of ``dlq.v1`` itself, its raw bytes, key and headers kept.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from prometheus_client import Counter
from pydantic import ValidationError

from sextant_common import topics
from sextant_common.durable_consumer import DurableConsumer, FlushPolicy, Parsed, Record, sorted_out
from sextant_common.events import DLQ_HEADER_PREFIX, DeadLetter
from sextant_datasets.dlq.store import DeadLetterStore

log = logging.getLogger(__name__)

LETTERS_KEPT = Counter("sextant_dlq_letters_kept_total", "Dead letters stored")
LETTERS_REPEATED = Counter("sextant_dlq_letters_repeated_total", "Dead letters already stored")

DLQ_FLUSH = FlushPolicy(rows=1_000, seconds=0.2, max_seconds=2.0)
"""Dead letters are few: store them a fifth of a second after they arrive."""


class DeadLetterKeeper(DurableConsumer[list[DeadLetter]]):
    """Consumes ``dlq.v1`` in group ``group_id`` and stores every dead letter in ``store``."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        store: DeadLetterStore,
        flush: FlushPolicy = DLQ_FLUSH,
    ) -> None:
        super().__init__(bootstrap=bootstrap, group_id=group_id, topics=[topics.DLQ], flush=flush)
        self._store = store

    def parse(self, records: Sequence[Record]) -> Parsed[list[DeadLetter]]:
        return sorted_out(records, [self._letter(record) for record in records])

    def store(self, chunks: list[list[DeadLetter]]) -> None:
        letters = [letter for chunk in chunks for letter in chunk]
        new = self._store.add(letters)
        LETTERS_KEPT.inc(new)
        LETTERS_REPEATED.inc(len(letters) - new)

    def _letter(self, record: Record) -> DeadLetter:
        try:
            return DeadLetter.model_validate_json(record.value or b"")
        except (ValidationError, ValueError) as exc:
            log.warning("unreadable record on dlq.v1", extra={"offset": record.offset})
            return DeadLetter.for_record(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
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
