"""What the bus consumers report to Prometheus: records consumed and lag per partition.

``sextant_events_consumed_total{topic,group}`` counts the records each consumer fetched;
``sextant_consumer_lag_records{topic,partition,group}`` is, after each fetch of a partition, how
many records lie between the consumer's position and the partition's end (its high-water mark,
which every fetch answer carries). A partition a consumer has caught up on reads 0; one it no
longer owns (after a rebalance) is no longer reported by it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from prometheus_client import Counter, Gauge

EVENTS_CONSUMED = Counter(
    "sextant_events_consumed_total", "Records fetched from the bus", ["topic", "group"]
)
CONSUMER_LAG = Gauge(
    "sextant_consumer_lag_records",
    "Records between a consumer's position and the partition's end after its last fetch",
    ["topic", "partition", "group"],
)


class ConsumerMetrics:
    """The consumed count and lag of one consumer (``group``: its group id, or its name when it
    has none), with each partition's label children looked up once."""

    def __init__(self, group: str) -> None:
        self._group = group
        self._children: dict[TopicPartition, tuple[Counter, Gauge]] = {}

    def fetched(
        self,
        consumer: AIOKafkaConsumer,
        batches: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]],
    ) -> None:
        """Count what one fetch of ``consumer`` returned (``getmany``'s answer) and set the lag of
        each partition it returned records of."""
        for partition, records in batches.items():
            if not records:
                continue
            children = self._children.get(partition)
            if children is None:
                children = self._children[partition] = (
                    EVENTS_CONSUMED.labels(partition.topic, self._group),
                    CONSUMER_LAG.labels(partition.topic, str(partition.partition), self._group),
                )
            consumed, lag = children
            consumed.inc(len(records))
            highwater = consumer.highwater(partition)
            if highwater is not None:
                lag.set(max(0, highwater - records[-1].offset - 1))
        owned = consumer.assignment()
        for partition in [p for p in self._children if p not in owned]:
            # a partition another member now owns: its last lag must not live on here
            del self._children[partition]
            CONSUMER_LAG.remove(partition.topic, str(partition.partition), self._group)
