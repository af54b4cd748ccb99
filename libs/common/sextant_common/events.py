"""Event schemas, one pydantic v2 model per message, each bound to its versioned topic.

Times are UTC and timezone-aware; naive datetimes are rejected. Prices and volumes are floats,
ids are strings. Models are frozen: an event never changes after it is built.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from sextant_common import topics


def _require_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware (UTC)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_require_utc)]
"""An aware datetime converted to UTC (for low-volume events; Bar checks in bulk, see there)."""


INSTRUMENT_ID_PATTERN: Final = (
    r"^(?:[A-Za-z0-9\-_:^][A-Za-z0-9.\-_:^]{0,63}"
    r"|[A-Za-z0-9\-_:^][A-Za-z0-9.\-_:^]{0,30}/[A-Za-z0-9\-_:^][A-Za-z0-9.\-_:^]{0,31})$"
)
"""Letters, digits and ``. - _ : ^``, 1 to 64 characters, with at most one ``/`` (``EUR/USD``);
neither the id nor the part after its ``/`` starts with a ``.``. The datasets service lays bars
out by instrument id in directories, so an id that could name ``.`` or ``..`` as a path segment
would reach outside the lake (see sextant_common.instruments)."""

InstrumentId = Annotated[str, Field(pattern=INSTRUMENT_ID_PATTERN)]
"""An instrument id field (e.g. an item of a ``symbols`` list), its pattern in the schema."""


class AssetClass(StrEnum):
    """What kind of instrument an id names."""

    EQUITY = "equity"
    ETF = "etf"
    INDEX = "index"
    FX = "fx"
    CRYPTO = "crypto"
    FUTURE = "future"
    OPTION = "option"


class Interval(StrEnum):
    """Bar length. Values are the wire/API spelling."""

    S1 = "1s"
    S5 = "5s"
    M1 = "1m"
    M5 = "5m"
    H1 = "1h"
    D1 = "1d"

    @property
    def duration(self) -> timedelta:
        """Length of one bar."""
        return _INTERVAL_DURATIONS[self]


_INTERVAL_DURATIONS: Final = {
    Interval.S1: timedelta(seconds=1),
    Interval.S5: timedelta(seconds=5),
    Interval.M1: timedelta(minutes=1),
    Interval.M5: timedelta(minutes=5),
    Interval.H1: timedelta(hours=1),
    Interval.D1: timedelta(days=1),
}


class Event(BaseModel):
    """Base of every bus message: frozen, strict about unknown fields, JSON via orjson."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TOPIC: ClassVar[str] = ""

    def to_bytes(self) -> bytes:
        """Serialize to the JSON bytes that travel on the wire (pydantic's Rust serializer)."""
        return self.__pydantic_serializer__.to_json(self)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Event:
        """Parse and validate wire bytes; raises ``pydantic.ValidationError`` or ``ValueError``."""
        return cls.model_validate_json(raw)

    @property
    def key(self) -> bytes | None:
        """Kafka key of the event's record (each model says what it is; None: no key)."""
        return None


class Bar(Event):
    """One OHLCV bar of one instrument.

    ``ts_event`` is the bar's start (UTC); ``ts_known`` is when Sextant learned it (knowledge time).
    A correction of the same bar is a new event with a higher ``revision``, never an overwrite.
    """

    TOPIC: ClassVar[str] = topics.MD_BARS

    # Bars are the hot path (tens of thousands per second): every field check below runs in
    # pydantic-core, and the one Python validator does the cross-field checks in a single call.
    instrument_id: str = Field(pattern=INSTRUMENT_ID_PATTERN)
    asset_class: AssetClass
    interval: Interval
    ts_event: AwareDatetime
    open: float = Field(gt=0, allow_inf_nan=False)
    high: float = Field(gt=0, allow_inf_nan=False)
    low: float = Field(gt=0, allow_inf_nan=False)
    close: float = Field(gt=0, allow_inf_nan=False)
    volume: float = Field(ge=0, allow_inf_nan=False)
    source: str = Field(min_length=1, max_length=32)
    ts_known: AwareDatetime
    revision: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _check_bar(self) -> Bar:
        if self.high < max(self.open, self.close) or self.low > min(self.open, self.close):
            raise ValueError(
                f"high/low do not bound open/close (o={self.open} h={self.high} "
                f"l={self.low} c={self.close})"
            )
        for name in ("ts_event", "ts_known"):  # normalize any offset to UTC
            moment: datetime = getattr(self, name)
            if moment.tzinfo is not UTC:
                try:
                    object.__setattr__(self, name, moment.astimezone(UTC))
                except OverflowError:  # 9999-12-31T23:00-05:00 is past year 9999 in UTC
                    raise ValueError(
                        f"{name} {moment.isoformat()} is out of range in UTC"
                    ) from None
        return self

    @property
    def key(self) -> bytes:
        """Kafka message key: the instrument id, so one instrument stays in one partition."""
        return self.instrument_id.encode()


class Fundamental(Event):
    """One reported fact of one entity (an XBRL value of a filing), point in time.

    ``ts_known`` is when it became public (the filing's acceptance time or date); a restatement
    is a new event with a higher ``revision``.
    """

    TOPIC: ClassVar[str] = topics.REF_FUNDAMENTALS

    entity_id: str = Field(min_length=1, max_length=64, description="e.g. ticker or CIK")
    concept: str = Field(min_length=1, description="e.g. us-gaap:Revenues")
    value: float = Field(allow_inf_nan=False)
    unit: str = Field(description="e.g. USD, shares, USD/shares")
    period_start: UtcDatetime | None = None
    period_end: UtcDatetime
    fiscal_year: int | None = None
    fiscal_period: str | None = Field(None, description="FY, Q1..Q4")
    form: str | None = Field(None, description="10-K, 10-Q, 8-K, ...")
    filing_id: str | None = Field(None, description="e.g. SEC accession number")
    source: str = Field(min_length=1, max_length=32)
    ts_known: UtcDatetime
    revision: int = Field(default=0, ge=0)

    @property
    def key(self) -> bytes:
        """Kafka key: the entity, so one company's facts stay ordered."""
        return self.entity_id.encode()


class MacroObservation(Event):
    """One value of a macro-economic series for one period, as known at ``ts_known``.

    ``period`` is the start of the observation period (e.g. 2024-01-01 for January or Q1 or 2024).
    """

    TOPIC: ClassVar[str] = topics.MACRO_SERIES

    series_id: str = Field(min_length=1, max_length=128, description="e.g. FRED:GDPC1")
    period: UtcDatetime
    frequency: str = Field(description="D, W, M, Q or A")
    value: float = Field(allow_inf_nan=False)
    units: str = ""
    source: str = Field(min_length=1, max_length=32)
    ts_known: UtcDatetime
    revision: int = Field(default=0, ge=0)

    @property
    def key(self) -> bytes:
        """Kafka key: the series."""
        return self.series_id.encode()


class NewsItem(Event):
    """One news article about zero or more instruments."""

    TOPIC: ClassVar[str] = topics.NEWS_ITEMS

    item_id: str = Field(min_length=1, max_length=128, description="stable id, e.g. url hash")
    ts_published: UtcDatetime
    title: str = Field(min_length=1)
    summary: str = ""
    url: str
    publisher: str = Field(description="e.g. Reuters")
    instruments: tuple[str, ...] = ()
    sentiment: float | None = Field(None, ge=0, le=1, description="0 negative .. 1 positive")
    source: str = Field(min_length=1, max_length=32)
    ts_known: UtcDatetime

    @property
    def key(self) -> bytes:
        """Kafka key: the article id."""
        return self.item_id.encode()


class AltSignal(Event):
    """An alternative-data reading about a subject, normalized to 0..1 (e.g. sentiment)."""

    TOPIC: ClassVar[str] = topics.ALT_SIGNALS

    signal: str = Field(min_length=1, description="e.g. reddit.sentiment, google_trends.interest")
    subject: str = Field(min_length=1, description="instrument id or keyword")
    ts_event: UtcDatetime
    value: float = Field(ge=0, le=1, allow_inf_nan=False)
    raw_value: float | None = Field(None, allow_inf_nan=False)
    samples: int | None = Field(None, ge=0, description="e.g. posts scored")
    method: str = Field("", description="how value was computed, e.g. VADER compound mean")
    source: str = Field(min_length=1, max_length=32)
    ts_known: UtcDatetime

    @property
    def key(self) -> bytes:
        """Kafka key: the subject."""
        return self.subject.encode()


class OptionRight(StrEnum):
    """Call or put."""

    CALL = "call"
    PUT = "put"


class OptionQuote(Event):
    """One option contract's quote in a chain snapshot (all contracts of one snapshot share
    ``ts_event``). Prices are per unit of the underlying (one contract covers ``multiplier``
    units); ``implied_vol`` is the provider's own figure (annualized, decimal), if it gives one."""

    TOPIC: ClassVar[str] = topics.MD_OPTIONS

    contract: str = Field(
        min_length=1, max_length=64, description="OCC-style id, e.g. O:SPY251219C00650000"
    )
    underlying: str = Field(pattern=INSTRUMENT_ID_PATTERN)
    expiry: date
    strike: float = Field(gt=0, allow_inf_nan=False)
    right: OptionRight
    style: Literal["american", "european"] = "american"
    multiplier: float = Field(100.0, gt=0, allow_inf_nan=False)
    ts_event: UtcDatetime = Field(description="when the quote was taken (snapshot time)")
    bid: float | None = Field(None, ge=0, allow_inf_nan=False)
    ask: float | None = Field(None, ge=0, allow_inf_nan=False)
    last: float | None = Field(None, ge=0, allow_inf_nan=False)
    volume: float | None = Field(None, ge=0, allow_inf_nan=False)
    open_interest: float | None = Field(None, ge=0, allow_inf_nan=False)
    implied_vol: float | None = Field(None, gt=0, allow_inf_nan=False)
    underlying_price: float | None = Field(None, gt=0, allow_inf_nan=False)
    source: str = Field(min_length=1, max_length=32)
    ts_known: UtcDatetime

    @model_validator(mode="after")
    def _check_quote(self) -> OptionQuote:
        if self.bid is not None and self.ask is not None and self.bid > self.ask:
            raise ValueError(f"bid {self.bid} is above ask {self.ask}")
        return self

    @property
    def key(self) -> bytes:
        """Kafka key: the underlying, so one chain stays in one partition, in order."""
        return self.underlying.encode()


class Analytics(Event):
    """Live analytics of one instrument, updated by the quant service on each of its bars.

    A figure that cannot be computed yet is None and ``pending`` says why (e.g. too few bars
    for the regime model, no benchmark bar on that date)."""

    TOPIC: ClassVar[str] = topics.QUANT_ANALYTICS

    instrument_id: str = Field(pattern=INSTRUMENT_ID_PATTERN)
    interval: Interval
    ts_event: UtcDatetime = Field(description="start of the bar these figures include")
    close: float = Field(gt=0, allow_inf_nan=False)
    bar_revision: int = Field(0, ge=0)
    source: str = Field(min_length=1, max_length=32, description="the bar's source")
    ewma_vol: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="EWMA volatility, annualized, decimal"
    )
    ewma_lambda: float = Field(gt=0, lt=1, description="EWMA decay per bar (RiskMetrics 0.94)")
    var_1d: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="1-day VaR, a loss as a fraction of value"
    )
    var_confidence: float = Field(gt=0, lt=1)
    beta: float | None = Field(None, allow_inf_nan=False, description="rolling beta")
    benchmark: str | None = Field(None, description="instrument id of the beta's benchmark")
    beta_window: int = Field(ge=2, description="bars in the rolling beta window")
    regime: str | None = Field(None, description="most probable filtered regime label")
    regime_probabilities: dict[str, float] | None = Field(
        None, description="filtered P(regime | bars up to ts_event), by label"
    )
    pending: dict[str, str] = Field(
        default_factory=dict, description="figure name -> why it is None"
    )
    ts_computed: UtcDatetime

    @property
    def key(self) -> bytes:
        """Kafka key: the instrument id, like its bars."""
        return self.instrument_id.encode()


class JobStatus(StrEnum):
    """Lifecycle of a job."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobRequest(Event):
    """Ask for long work (a backtest, a backfill, a training run) to be done by ``kind``'s owner."""

    TOPIC: ClassVar[str] = topics.JOBS_REQUESTS

    job_id: str = Field(min_length=1, max_length=64)
    kind: str = Field(min_length=1, max_length=64, description="e.g. backtest, backfill")
    params: dict[str, Any] = Field(default_factory=dict)
    ts_requested: UtcDatetime

    @property
    def key(self) -> bytes:
        """Kafka key: the job id, so a job's messages stay ordered."""
        return self.job_id.encode()


class JobEvent(Event):
    """Progress or outcome of a job; the last event of a job has a final status."""

    TOPIC: ClassVar[str] = topics.JOBS_EVENTS

    job_id: str = Field(min_length=1, max_length=64)
    kind: str
    status: JobStatus
    progress: float = Field(0.0, ge=0, le=1)
    message: str = ""
    result: dict[str, Any] | None = None
    error: str | None = None
    ts: UtcDatetime
    result_ref: str | None = None
    """Where a result too large for an event is stored (then ``result`` is None): the owner's
    ``GET`` of the job returns it in full."""
    result_summary: dict[str, Any] | None = None
    """A few headline numbers of a stored result (e.g. a sweep's best pair), for display."""

    @property
    def key(self) -> bytes:
        """Kafka key: the job id."""
        return self.job_id.encode()


class DeadLetterHeader(BaseModel):
    """One Kafka record header: its name (a string on the wire) and its value, base64."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    value_b64: str

    @property
    def value(self) -> bytes:
        """The header's original bytes."""
        return base64.b64decode(self.value_b64)


DLQ_HEADER_PREFIX: Final = "sextant.dlq."
"""Prefix of the headers a dead letter's record adds to the original ones (topic, partition,
offset, consumer, error)."""

_DLQ_ERROR_HEADER_CHARS: Final = 1000

DLQ_RAW_MAX_BYTES: Final = 256 * 1024
"""Most bytes of a record's value a dead letter carries: a larger value (a broker may accept
records of many MB) is cut to its first 256 KiB, with its full size and SHA-256 kept, so the dead
letter itself always fits in a Kafka request (1 MB by default)."""
DLQ_HEADER_MAX_BYTES: Final = 16 * 1024
"""Most bytes of one header value a dead letter carries (cut the same way)."""


class DeadLetter(Event):
    """A record a consumer could not parse, validate or accept, with where it came from and why.

    The original record travels with it byte for byte, each part base64 so any bytes survive
    JSON: ``raw_b64`` (the value), ``key_b64`` (the key; None when the record had none) and
    ``headers`` (name and base64 value, in order). The dead letter's own record on ``dlq.v1`` is
    produced with the original key (:attr:`key`) and the original headers followed by
    ``sextant.dlq.*`` ones naming the source topic, partition, offset, consumer and the error
    (:meth:`record_headers`), so a replay tool can re-publish it unchanged.
    """

    TOPIC: ClassVar[str] = topics.DLQ

    topic: str
    partition: int
    offset: int
    consumer: str
    error: str
    raw_b64: str
    key_b64: str | None = None
    headers: tuple[DeadLetterHeader, ...] = ()
    ts_failed: UtcDatetime
    raw_size: int | None = None
    """The original value's size in bytes when ``raw_b64`` holds only its first
    :data:`DLQ_RAW_MAX_BYTES` (None: the value is whole)."""
    raw_sha256: str | None = None
    """SHA-256 (hex) of the whole original value, when it was cut."""

    @classmethod
    def for_record(
        cls,
        *,
        topic: str,
        partition: int,
        offset: int,
        consumer: str,
        error: str,
        raw: bytes,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes]] = (),
    ) -> DeadLetter:
        """Build a dead letter for a raw record (value, key, headers) that failed in
        ``consumer``. A value over :data:`DLQ_RAW_MAX_BYTES` (or a key or header value over
        :data:`DLQ_HEADER_MAX_BYTES`) is cut, and the error says so."""
        cut = len(raw) > DLQ_RAW_MAX_BYTES
        if cut:
            error = f"{error} (value cut to its first {DLQ_RAW_MAX_BYTES} of {len(raw)} bytes)"
        return cls(
            topic=topic,
            partition=partition,
            offset=offset,
            consumer=consumer,
            error=error[:4000],
            raw_b64=base64.b64encode(raw[:DLQ_RAW_MAX_BYTES]).decode(),
            key_b64=None if key is None else _b64(key[:DLQ_HEADER_MAX_BYTES]),
            headers=tuple(
                DeadLetterHeader(name=name, value_b64=_b64((value or b"")[:DLQ_HEADER_MAX_BYTES]))
                for name, value in headers
            ),
            ts_failed=datetime.now(UTC),
            raw_size=len(raw) if cut else None,
            raw_sha256=hashlib.sha256(raw).hexdigest() if cut else None,
        )

    @property
    def raw(self) -> bytes:
        """The original message bytes."""
        return base64.b64decode(self.raw_b64)

    @property
    def key(self) -> bytes | None:
        """The original record's key, and so the key of the dead letter's own record."""
        return None if self.key_b64 is None else base64.b64decode(self.key_b64)

    @property
    def original_headers(self) -> list[tuple[str, bytes]]:
        """The original record's headers, in order."""
        return [(h.name, h.value) for h in self.headers]

    def record_headers(self) -> list[tuple[str, bytes]]:
        """Headers of the dead letter's record on ``dlq.v1``: the original ones, then where it
        came from and why (``sextant.dlq.topic|partition|offset|consumer|error``, UTF-8; the
        error cut to 1000 characters, the full text is in the body)."""
        provenance = {
            "topic": self.topic,
            "partition": str(self.partition),
            "offset": str(self.offset),
            "consumer": self.consumer,
            "error": self.error[:_DLQ_ERROR_HEADER_CHARS],
        }
        return [
            *self.original_headers,
            *((DLQ_HEADER_PREFIX + name, text.encode()) for name, text in provenance.items()),
        ]


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
