"""The lake's bar consumer: ``md.bars.v1`` -> Parquet, offsets committed only after fsync.

:class:`BarSink` is a :class:`~sextant_common.durable_consumer.DurableConsumer` (the shared
buffer -> durable write -> commit loop); :mod:`sextant_datasets.facts.sink` keeps the fetched
datasets the same way. Records that fail validation, and valid bars the
:class:`~sextant_datasets.admission.BarAdmission` refuses (unregistered source, dated in the
future), go to ``dlq.v1`` with their original key and headers before their offsets are committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from prometheus_client import Counter
from pydantic import ValidationError

from sextant_common import topics
from sextant_common.durable_consumer import DurableConsumer, FlushPolicy, Parsed, Record, sorted_out
from sextant_common.events import Bar
from sextant_datasets.admission import BarAdmission
from sextant_datasets.lake.writer import LakeWriter

BARS_WRITTEN = Counter("sextant_lake_bars_written_total", "Bars appended to the lake")
BARS_DUPLICATE = Counter("sextant_lake_bars_duplicate_total", "Redelivered bars already stored")
BARS_REFUSED = Counter(
    "sextant_lake_bars_refused_total", "Valid bars refused (unknown source, future date)"
)


class BarSink(DurableConsumer[list[Bar]]):
    """Consumes ``md.bars.v1`` and appends the bars its admission accepts to the lake."""

    def __init__(
        self,
        *,
        bootstrap: str,
        group_id: str,
        writer: LakeWriter,
        flush: FlushPolicy,
        admission: BarAdmission,
        on_flush: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(
            bootstrap=bootstrap,
            group_id=group_id,
            topics=[topics.MD_BARS],
            flush=flush,
            on_flush=on_flush,
        )
        self._writer = writer
        self._admission = admission

    def parse(self, records: Sequence[Record]) -> Parsed[list[Bar]]:
        admit = self._admission.checker(datetime.now(UTC))
        parsed: list[Bar | str] = []
        for record in records:
            try:
                bar = Bar.model_validate_json(record.value or b"")
            except (ValidationError, ValueError) as exc:
                parsed.append(f"{type(exc).__name__}: {exc}")
                continue
            refusal = admit.refusal(bar)
            if refusal is None:
                parsed.append(bar)
            else:
                BARS_REFUSED.inc()
                parsed.append(f"refused: {refusal}")
        return sorted_out(records, parsed)

    def store(self, chunks: list[list[Bar]]) -> None:
        result = self._writer.write(bar for chunk in chunks for bar in chunk)
        BARS_WRITTEN.inc(result.written)
        BARS_DUPLICATE.inc(result.duplicates)
