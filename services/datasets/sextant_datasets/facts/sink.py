"""The fetched datasets' consumer: ``ref.fundamentals.v1``, ``macro.series.v1``,
``news.items.v1`` and ``alt.signals.v1`` -> the lake, point in time.

The shared durable loop (:class:`~sextant_common.durable_consumer.DurableConsumer`):
buffer, write with :class:`~sextant_datasets.facts.store.FactWriter` (idempotent on each
dataset's natural key), commit exactly the offsets written; a record that is not valid JSON of
its topic's event model goes to ``dlq.v1`` with the reason, its original key and headers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import Counter
from pydantic import ValidationError

from sextant_common import topics
from sextant_common.durable_consumer import DurableConsumer, FlushPolicy, Parsed, Record, sorted_out
from sextant_common.events import Event
from sextant_datasets.facts.store import FactWriter

FACTS_WRITTEN = Counter(
    "sextant_lake_facts_written_total", "Fetched records appended to the lake", ["dataset"]
)
FACTS_DUPLICATE = Counter(
    "sextant_lake_facts_duplicate_total", "Redelivered fetched records already stored", ["dataset"]
)

FACT_TOPICS = (topics.REF_FUNDAMENTALS, topics.MACRO_SERIES, topics.NEWS_ITEMS, topics.ALT_SIGNALS)
"""The topics this sink keeps (each has a :class:`~sextant_datasets.facts.store.FactSet`)."""

FACT_FLUSH = FlushPolicy(rows=10_000, seconds=0.5, max_seconds=5.0)
"""Fetched records arrive in small bursts (one fetch each): flush half a second after one."""


class FactSink(DurableConsumer[list[Event]]):
    """Consumes ``topics`` (default: the four fetched ones) and stores their records in the
    lake with ``writer``, which must hold a fact set for each."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        writer: FactWriter,
        flush: FlushPolicy = FACT_FLUSH,
        on_flush: Callable[[], None] = lambda: None,
        topics: Sequence[str] = FACT_TOPICS,
    ) -> None:
        super().__init__(
            bootstrap=bootstrap,
            group_id=group_id,
            topics=topics,
            flush=flush,
            on_flush=on_flush,
        )
        self._models = {topic: writer.fact_set_of(topic).model for topic in topics}
        self._writer = writer

    def parse(self, records: Sequence[Record]) -> Parsed[list[Event]]:
        parsed: list[Event | str] = []
        for record in records:
            model = self._models[record.topic]
            try:
                parsed.append(model.model_validate_json(record.value or b""))
            except (ValidationError, ValueError) as exc:
                parsed.append(f"{type(exc).__name__}: {exc}")
        return sorted_out(records, parsed)

    def store(self, chunks: list[list[Event]]) -> None:
        result = self._writer.write([event for chunk in chunks for event in chunk])
        for name, count in result.written.items():
            FACTS_WRITTEN.labels(name).inc(count)
        for name, count in result.duplicates.items():
            FACTS_DUPLICATE.labels(name).inc(count)
