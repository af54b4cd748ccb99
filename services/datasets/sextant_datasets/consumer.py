"""The lake's bar consumer: ``md.bars.v1`` -> Parquet, offsets committed only after fsync.

:class:`BarSink` is a :class:`~sextant_common.durable_consumer.DurableConsumer` (the shared
buffer -> durable write -> commit loop); :mod:`sextant_datasets.facts.sink` keeps the fetched
datasets the same way. Records that fail validation, and valid bars the
:class:`~sextant_datasets.admission.BarAdmission` refuses (unregistered source, dated in the
future), go to ``dlq.v1`` with their original key and headers before their offsets are committed.

A fetch becomes an Arrow table in one of two ways. :func:`read_bars` parses all its records at
once with Arrow's JSON reader and checks every rule of :class:`~sextant_common.events.Bar` and of
the admission over whole columns; it gives up on the fetch at the first doubt (a record it cannot
parse, or any row breaking any rule). The fetch then goes record by record through the Bar model
itself, which names each bad record's reason for the dead letter. The columnar path accepts only
records the model accepts and yields the values the model gives (tests/datasets/
test_columnar_bars.py holds it to that), so which path a fetch took never shows in the lake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from prometheus_client import Counter

from sextant_common import topics
from sextant_common.durable_consumer import DurableConsumer, FlushPolicy, Parsed, Record, sorted_out
from sextant_common.events import INSTRUMENT_ID_PATTERN, AssetClass, Bar, Interval
from sextant_datasets.admission import AdmissionCheck, BarAdmission
from sextant_datasets.lake.layout import BAR_SCHEMA
from sextant_datasets.lake.writer import LakeWriter, bars_to_table

BARS_WRITTEN = Counter("sextant_lake_bars_written_total", "Bars appended to the lake")
BARS_DUPLICATE = Counter("sextant_lake_bars_duplicate_total", "Redelivered bars already stored")
BARS_REFUSED = Counter(
    "sextant_lake_bars_refused_total", "Valid bars refused (unknown source, future date)"
)
BAR_FETCHES = Counter(
    "sextant_lake_bar_fetches_total",
    "Fetches of md.bars.v1 by how they were parsed (columnar: all at once; per_record: a record "
    "failed a check, so each went through the Bar model)",
    ["path"],
)


class BarSink(DurableConsumer[pa.Table]):
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
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
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
        self._clock = clock
        """The time a fetch arrived: what the admission's future-date rules compare with."""

    def parse(self, records: Sequence[Record]) -> Parsed[pa.Table]:
        admit = self._admission.checker(self._clock())
        table = read_bars([record.value for record in records], admit)
        if table is not None:
            BAR_FETCHES.labels("columnar").inc()
            return Parsed(table, table.num_rows, [])
        BAR_FETCHES.labels("per_record").inc()
        return parse_each(records, admit)

    def store(self, chunks: list[pa.Table]) -> None:
        result = self._writer.write_table(pa.concat_tables(chunks))
        BARS_WRITTEN.inc(result.written)
        BARS_DUPLICATE.inc(result.duplicates)


def parse_each(records: Sequence[Record], admit: AdmissionCheck) -> Parsed[pa.Table]:
    """Validate ``records`` one by one with the Bar model: the accepted bars as a table, every
    other record with its reason (the model's error, or the admission's refusal)."""
    parsed: list[Bar | str] = []
    for record in records:
        try:
            bar = Bar.model_validate_json(record.value or b"")
        except ValueError as exc:  # a ValidationError is a ValueError
            parsed.append(f"{type(exc).__name__}: {exc}")
            continue
        refusal = admit.refusal(bar)
        if refusal is None:
            parsed.append(bar)
        else:
            BARS_REFUSED.inc()
            parsed.append(f"refused: {refusal}")
    bars = sorted_out(records, parsed)
    table = bars_to_table(bars.chunk) if bars.chunk else None
    return Parsed(table, bars.rows, bars.refused)


def read_bars(values: Sequence[bytes | None], admit: AdmissionCheck) -> pa.Table | None:
    """The bars of ``values`` (each one record's JSON) as a table of :data:`BAR_SCHEMA` in
    record order, when every record is a valid Bar that ``admit`` accepts; None when any record
    is not, or might not be (the caller then validates them one by one)."""
    blob = _one_object_per_line(values)
    if blob is None:
        return None
    # A pretty-printed record spans lines: Arrow then finds the objects by parsing, not newlines.
    spans_lines = blob.count(b"\n") != len(values) - 1 or b"\r" in blob
    try:
        wire = pj.read_json(
            pa.BufferReader(blob),
            # one block, one thread: a fetch is a few MB, and the consumer shares the cores
            # with the lake writer's threads
            read_options=pj.ReadOptions(use_threads=False, block_size=min(len(blob) + 1, 1 << 30)),
            parse_options=pj.ParseOptions(
                explicit_schema=_WIRE_SCHEMA,
                unexpected_field_behavior="error",
                newlines_in_values=spans_lines,
            ),
        )
    except pa.ArrowException:
        return None
    if wire.num_rows != len(values):  # a record held two objects (see _one_object_per_line)
        return None
    bars = _valid_bars(wire, null_in_input=b"null" in blob)
    if bars is None or admit.refused_rows(bars).any():
        return None
    return bars


def _one_object_per_line(values: Sequence[bytes | None]) -> bytes | None:
    """``values`` joined by newlines, or None when that could hide how many objects they hold.

    Arrow reads a stream of objects and skips blank lines, so only the count of objects read
    tells whether each record was one object. That holds when every record starts with ``{``
    (none is blank, none starts with a byte-order mark Arrow would skip) and is valid UTF-8
    without NUL bytes (Arrow passes invalid UTF-8 through, and stops at a NUL).
    """
    if not values:
        return None
    try:
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))  # type: ignore[arg-type]
        blob = b"\n".join(values)  # type: ignore[arg-type]
    except TypeError:  # a record without a value
        return None
    starts = np.cumsum(lengths + 1) - lengths - 1
    if lengths.min() < 2 or not (np.frombuffer(blob, np.uint8)[starts] == ord("{")).all():
        return None
    if b"\0" in blob or not (blob.isascii() or _is_utf8(blob)):
        return None
    return blob


def _is_utf8(blob: bytes) -> bool:
    try:
        blob.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


_TIMESTAMP_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"  # 2024-03-04T14:30:00
    r"(\.[0-9]{1,6})?(Z|[+-][0-9]{2}:[0-9]{2})$"  # .123456, then Z or +02:00
)
"""The ISO-8601 timestamps the columnar path converts itself: a subset of what the Bar model
parses (no naive times, at most microseconds); anything else goes to the model."""

_TIMESTAMPS = ("ts_event", "ts_known")
_WIRE_SCHEMA = pa.schema(
    [pa.field(f.name, pa.string()) if f.name in _TIMESTAMPS else f for f in BAR_SCHEMA]
)
"""BAR_SCHEMA with the timestamps read as text, so a naive or odd one can be told apart."""

_ASSET_CLASSES = pa.array([a.value for a in AssetClass], pa.string())
_INTERVALS = pa.array([i.value for i in Interval], pa.string())
_PRICES = ("open", "high", "low", "close")


def _valid_bars(wire: pa.Table, *, null_in_input: bool) -> pa.Table | None:
    """``wire`` (read with :data:`_WIRE_SCHEMA`) as a BAR_SCHEMA table when every row passes
    every field and cross-field rule of the Bar model; else None."""
    revision = wire.column("revision")
    if any(wire.column(name).null_count for name in wire.column_names if name != "revision"):
        return None  # a required field missing, or null
    if revision.null_count:
        if null_in_input:  # Arrow reads an explicit null like a missing field: the model won't
            return None
        revision = revision.fill_null(0)  # the model's default
    if not (
        _all(
            pc.match_substring_regex(pc.unique(wire.column("instrument_id")), INSTRUMENT_ID_PATTERN)
        )
        and _all(pc.is_in(wire.column("asset_class"), value_set=_ASSET_CLASSES))
        and _all(pc.is_in(wire.column("interval"), value_set=_INTERVALS))
        and _all(pc.greater_equal(revision, 0))
    ):
        return None
    source_length = pc.utf8_length(wire.column("source"))
    if not _all(pc.and_(pc.greater_equal(source_length, 1), pc.less_equal(source_length, 32))):
        return None
    open_, high, low, close = (wire.column(name).to_numpy() for name in _PRICES)
    volume = wire.column("volume").to_numpy()
    with np.errstate(invalid="ignore"):
        prices_ok = all((np.isfinite(p) & (p > 0)).all() for p in (open_, high, low, close))
        volume_ok = (np.isfinite(volume) & (volume >= 0)).all()
    if not (prices_ok and volume_ok):
        return None
    if (high < np.maximum(open_, close)).any() or (low > np.minimum(open_, close)).any():
        return None
    times = {name: _utc_micros(wire.column(name)) for name in _TIMESTAMPS}
    if any(t is None for t in times.values()):
        return None
    columns = {**{name: wire.column(name) for name in wire.column_names}, "revision": revision}
    for name, micros in times.items():
        columns[name] = pa.array(micros, BAR_SCHEMA.field(name).type)
    return pa.Table.from_arrays([columns[name] for name in BAR_SCHEMA.names], schema=BAR_SCHEMA)


def _all(mask: pa.ChunkedArray | pa.Array) -> bool:
    """Every value true (a null counts as false)."""
    return mask.null_count == 0 and bool(pc.all(mask).as_py())


_DAYS_IN_MONTH = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _utc_micros(column: pa.ChunkedArray) -> np.ndarray | None:
    """Microseconds since the epoch (UTC) of ISO-8601 timestamps with an offset; None when any
    does not match :data:`_TIMESTAMP_PATTERN` or names no real moment (Feb 30, 24:00, +24:00)."""
    # A fetch repeats its timestamps (every symbol's bar of one minute): parse each text once.
    encoded = pc.dictionary_encode(column.combine_chunks())
    distinct = _distinct_utc_micros(encoded.dictionary)
    if distinct is None:
        return None
    micros: np.ndarray = distinct[encoded.indices.to_numpy()]
    return micros


def _distinct_utc_micros(text: pa.StringArray) -> np.ndarray | None:
    """:func:`_utc_micros` of each value of ``text``."""
    if not _all(pc.match_substring_regex(text, _TIMESTAMP_PATTERN)):
        return None
    # The pattern fixes every byte's meaning: read the digits straight from Arrow's buffers.
    offsets = np.frombuffer(text.buffers()[1], np.int32)[text.offset : text.offset + len(text) + 1]
    data = np.frombuffer(text.buffers()[2], np.uint8).astype(np.int64)
    start, end = offsets[:-1].astype(np.int64), offsets[1:].astype(np.int64)

    def digits(at: np.ndarray, width: int) -> np.ndarray:
        value = np.zeros(len(at), np.int64)
        for i in range(width):
            value = value * 10 + data[np.minimum(at + i, len(data) - 1)] - ord("0")
        return value

    year, month, day = digits(start, 4), digits(start + 5, 2), digits(start + 8, 2)
    hour, minute, second = digits(start + 11, 2), digits(start + 14, 2), digits(start + 17, 2)
    zulu = data[end - 1] == ord("Z")
    fraction_end = np.where(zulu, end - 1, end - 6)
    places = np.maximum(fraction_end - start - 20, 0)  # digits after the point, 0..6
    fraction = np.zeros(len(text), np.int64)
    for i in range(6):
        digit = data[np.minimum(start + 20 + i, len(data) - 1)] - ord("0")
        fraction = fraction * 10 + np.where(i < places, digit, 0)
    offset_hours, offset_minutes = digits(end - 5, 2), digits(end - 2, 2)
    sign = np.where(data[end - 6] == ord("-"), -1, 1)
    offset_s = np.where(zulu, 0, sign * (offset_hours * 3600 + offset_minutes * 60))

    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _DAYS_IN_MONTH[np.clip(month, 1, 12) - 1] + (leap & (month == 2))
    real = (
        # years well inside what the model's datetimes hold after any offset (1..9999)
        (year >= 1000)
        & (year <= 8999)
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= month_days)
        & (hour <= 23)
        & (minute <= 59)
        & (second <= 59)
        & (zulu | ((offset_hours <= 23) & (offset_minutes <= 59)))
    )
    if not real.all():
        return None
    seconds = _days_since_epoch(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
    micros: np.ndarray = (seconds - offset_s) * 1_000_000 + fraction
    return micros


def _days_since_epoch(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days from 1970-01-01 to each proleptic Gregorian date (H. Hinnant's days_from_civil)."""
    year = year - (month <= 2)
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days: np.ndarray = era * 146_097 + day_of_era - 719_468
    return days
