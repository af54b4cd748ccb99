"""Databento: futures OHLCV bars from CME Globex (and the other venues Databento publishes).

Needs a key: ``SEXTANT_DATABENTO_API_KEY`` (Databento's ``db-...`` key; usage is billed per
byte against the account's credits). Without it the fetch fails with
:class:`MissingCredentials` naming that variable, before any request.

Dataset ``ohlcv`` (:class:`DatabentoOhlcvFetcher`): ``POST /v0/timeseries.get_range`` on
``hist.databento.com`` with form fields ``dataset`` (default ``GLBX.MDP3``, CME Globex MDP 3.0),
``symbols``, ``schema`` (``ohlcv-1s``, ``ohlcv-1m``, ``ohlcv-1h``, ``ohlcv-1d`` for Sextant's
``1s``, ``1m``, ``1h``, ``1d``), ``stype_in``, ``start``/``end`` (Unix nanoseconds, ``[start,
end)``), ``encoding=json`` and ``compression=none``. The key is the HTTP basic-auth user name
with an empty password, so it never appears in a URL. The answer is newline-delimited JSON,
one record per line::

    {"hd":{"ts_event":"1704153600000000000","rtype":35,"publisher_id":1,"instrument_id":4916},
     "open":"4804750000000","high":"4818500000000","low":"4769000000000",
     "close":"4786000000000","volume":"1349566"}

``ts_event`` is the bar's start in nanoseconds (daily bars start at 00:00 UTC, Sextant's daily
convention); prices are fixed-point integers in units of 1e-9 (``pretty_px`` is not asked, so
no decimal string is ever parsed); ``volume`` is the number of contracts traded on the
electronic session (not the exchange's settlement volume, which adds block trades). A bucket
without trades has no record.

Ids (asset class ``future``): an outright contract is its exchange symbol, root + month code
+ year digit, ``ESZ6`` -> ``stype_in=raw_symbol`` (CME reuses ``ESZ6`` every ten years: the
contract listed in the asked range is the one served). A continuous contract is Databento's
own notation, ``ROOT.RULE.RANK`` -> ``stype_in=continuous``: ``ES.c.0`` (front month by
calendar), ``ES.v.0`` (highest volume), ``ES.n.1`` (second by open interest); its bars are
those of whichever contract the rule picked that day, unadjusted at the rolls.

Paging: Databento streams a whole range in one response, so ``[start, end)`` is cut into
windows of ``window_bars`` bar lengths (default 50,000: the whole history of daily bars in one
request, about 35 days of minute bars), asked oldest first. A range past the data Databento
has ends in HTTP 422 ``data_end_after_available_end``.

Records: a bar is served when ``start <= ts_event < end`` and it has ended when the response
arrived (``ts_known``). A line that is not JSON, has another ``rtype``, a price at the
"undefined" sentinel, a time off the interval's grid, or fails validation (high below low)
becomes a :class:`Reject` with the reason. No record at all raises :class:`NoData`; an
unknown symbol (HTTP 422 ``symbology_invalid_request``) raises :class:`NotFound`.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sextant_common.events import AssetClass, Bar, Interval
from sextant_common.timeparse import UtcBound, UtcEndBound
from sextant_ingest.providers._common import (
    KeyedFetcher,
    bar_or_reject,
    check_bar_query,
    collect,
)
from sextant_ingest.providers.errors import (
    MalformedResponse,
    NoData,
    NotFound,
    ProviderError,
)
from sextant_ingest.providers.fetcher import (
    DataKind,
    Fetcher,
    ProviderInfo,
    RateLimit,
    Reject,
    Transformed,
)
from sextant_ingest.providers.http import ProviderHttp

API_KEY_VARIABLE = "SEXTANT_DATABENTO_API_KEY"

PROVIDER = ProviderInfo(
    name="databento",
    base_url="https://hist.databento.com/v0",
    kinds=frozenset({DataKind.BARS}),
    rate_limit=RateLimit(requests=50, per_seconds=1.0),  # well under the historical API's
    asset_classes=frozenset({AssetClass.FUTURE}),
    credentials=(API_KEY_VARIABLE,),
    docs_url="https://databento.com/docs/api-reference-historical/timeseries/timeseries-get-range",
)

SCHEMAS: dict[Interval, tuple[str, int]] = {
    Interval.S1: ("ohlcv-1s", 32),
    Interval.M1: ("ohlcv-1m", 33),
    Interval.H1: ("ohlcv-1h", 34),
    Interval.D1: ("ohlcv-1d", 35),
}
"""Sextant interval -> Databento schema and the ``rtype`` of its records."""
PRICE_UNITS = 1_000_000_000
"""Fixed-point units per unit of price (one unit is 1e-9). Dividing by it, rather than
multiplying by 1e-9 (not exact in binary), gives the float nearest the decimal price."""
UNDEF_PRICE = 2**63 - 1
"""Databento's "no price" sentinel (INT64_MAX)."""
DEFAULT_DATASET = "GLBX.MDP3"
OUTRIGHT = re.compile(r"^[A-Z0-9]{1,6}[FGHJKMNQUVXZ]\d{1,2}$")
"""An exchange contract symbol: root, month code, year (``ESZ6``)."""
CONTINUOUS = re.compile(r"^[A-Z0-9]{1,6}\.[cvn]\.\d{1,2}$")
"""Databento's continuous notation: root, roll rule (calendar/volume/open interest), rank."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class DatabentoOhlcvQuery(BaseModel):
    """Bars of one futures contract (outright or continuous) over ``[start, end)``."""

    model_config = ConfigDict(frozen=True)

    instrument_id: str = Field(description="ESZ6 (outright) or ES.c.0 (continuous)")
    interval: Interval = Interval.D1
    start: UtcBound
    end: UtcEndBound
    asset_class: AssetClass = AssetClass.FUTURE
    dataset: str = Field(DEFAULT_DATASET, pattern=r"^[A-Z0-9]+\.[A-Z0-9]+$")
    window_bars: int = Field(50_000, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _check(self) -> DatabentoOhlcvQuery:
        check_bar_query(
            self, asset_class=AssetClass.FUTURE, intervals=SCHEMAS, provider="Databento OHLCV"
        )
        if not (OUTRIGHT.match(self.instrument_id) or CONTINUOUS.match(self.instrument_id)):
            raise ValueError(
                f"instrument_id {self.instrument_id!r} is neither an outright contract "
                "(root + month code + year, ESZ6) nor a continuous one (ES.c.0, ES.v.1)"
            )
        return self

    @property
    def stype_in(self) -> str:
        """Databento's symbology of the id."""
        return "continuous" if CONTINUOUS.match(self.instrument_id) else "raw_symbol"

    @property
    def schema_name(self) -> str:
        """The OHLCV schema of the interval."""
        return SCHEMAS[self.interval][0]

    @property
    def rtype(self) -> int:
        """The record type every line of the answer must carry."""
        return SCHEMAS[self.interval][1]

    def windows(self, until: datetime) -> list[tuple[datetime, datetime]]:
        """``[start, min(end, until))`` cut into windows of ``window_bars`` bar lengths, oldest
        first (nothing is asked of the future)."""
        step = self.interval.duration * self.window_bars
        stop = min(self.end, until)
        windows, first = [], self.start
        while first < stop:
            windows.append((first, min(first + step, stop)))
            first += step
        return windows


@dataclass(frozen=True)
class DatabentoLines:
    """The record lines of every window, oldest first, and when the last answer arrived."""

    lines: list[str]
    fetched_at: datetime


class DatabentoOhlcvFetcher(KeyedFetcher[DatabentoOhlcvQuery, Bar]):
    """OHLCV bars (``timeseries.get_range``) of one futures contract, every window.

    Built as ``DatabentoOhlcvFetcher(credentials=None, *, clock=utc_now)``.
    """

    provider = PROVIDER
    kind = DataKind.BARS
    dataset = "ohlcv"
    query_model = DatabentoOhlcvQuery
    api_key_variable = API_KEY_VARIABLE

    async def aextract_data(self, query: DatabentoOhlcvQuery, http: ProviderHttp) -> DatabentoLines:
        """Every window of ``query``; NoData when none holds a record, NotFound for a symbol
        Databento cannot resolve."""
        token = base64.b64encode(f"{self._api_key()}:".encode()).decode()
        headers = {"Authorization": f"Basic {token}"}
        lines: list[str] = []
        for first, last in query.windows(self._clock()):
            form = {
                "dataset": query.dataset,
                "symbols": query.instrument_id,
                "schema": query.schema_name,
                "stype_in": query.stype_in,
                "start": str(_ns(first)),
                "end": str(_ns(last)),
                "encoding": "json",
                "compression": "none",
            }
            try:
                response = await http.post_form("/timeseries.get_range", data=form, headers=headers)
            except ProviderError as exc:
                raise _translate(exc, query) from None
            lines += [line for line in response.text.splitlines() if line.strip()]
        if not lines:
            raise NoData(
                PROVIDER.name,
                f"no {query.schema_name} records for {query.instrument_id} on {query.dataset} "
                f"in [{query.start.isoformat()}, {query.end.isoformat()})",
            )
        return DatabentoLines(lines, self._clock())

    def transform_data(self, query: DatabentoOhlcvQuery, raw: DatabentoLines) -> Transformed[Bar]:
        """Bars of the lines in order; bad lines become Rejects."""
        return collect(self._bar(query, line, raw.fetched_at) for line in raw.lines)

    def _bar(
        self, query: DatabentoOhlcvQuery, line: str, fetched_at: datetime
    ) -> Bar | Reject | None:
        try:
            record = orjson.loads(line)
            header = record["hd"]
            rtype = header["rtype"]
            ts_event = _EPOCH + timedelta(microseconds=int(header["ts_event"]) // 1000)
            fixed = [int(record[name]) for name in ("open", "high", "low", "close")]
            volume = int(record["volume"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            return Reject(
                f"unreadable OHLCV record ({type(exc).__name__}: {exc})",
                line,
                key=query.instrument_id,
            )
        if rtype != query.rtype:
            return Reject(
                f"rtype {rtype} is not {query.rtype} ({query.schema_name})",
                line,
                key=query.instrument_id,
            )
        if UNDEF_PRICE in fixed:
            return Reject(
                "a price is Databento's undefined sentinel", line, key=query.instrument_id
            )
        if (ts_event - _EPOCH) % query.interval.duration:
            return Reject(
                f"ts_event {ts_event.isoformat()} is not on the {query.interval} grid",
                line,
                key=query.instrument_id,
            )
        if (
            not query.start <= ts_event < query.end
            or ts_event + query.interval.duration > fetched_at
        ):
            return None  # outside the range, or still forming when fetched
        open_, high, low, close = (p / PRICE_UNITS for p in fixed)
        return bar_or_reject(
            line,
            instrument_id=query.instrument_id,
            asset_class=AssetClass.FUTURE,
            interval=query.interval,
            ts_event=ts_event,
            ohlcv=(open_, high, low, close, volume),
            source=PROVIDER.name,
            ts_known=fetched_at,
        )


def _translate(exc: ProviderError, query: DatabentoOhlcvQuery) -> ProviderError:
    """Databento's 422 for a symbol it cannot resolve is NotFound; the rest stay as raised
    (401/403 Unauthorized, 429 RateLimited, 5xx ProviderUnavailable)."""
    if isinstance(exc, MalformedResponse) and "symbology_invalid_request" in str(exc):
        return NotFound(
            PROVIDER.name,
            f"{query.instrument_id} ({query.stype_in}) does not resolve on {query.dataset}",
        )
    return exc


def _ns(moment: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime (exact to the microsecond)."""
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1000


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (DatabentoOhlcvFetcher,)
