"""``GET /v1/fundamentals``, ``/v1/macro``, ``/v1/news``, ``/v1/signals``: the fetched datasets
as known at a point in time; ``/v1/macro/aligned``: several macro series on one calendar.

Each answers the rows known at ``as_of`` (default now; a future ``as_of`` is answered as of now
with a warning), one per identity: the value learned last by then (see
:mod:`sextant_datasets.facts.store` for the natural keys and the as-of rule). Nothing stored
for the query is an empty list, not an error. One file for the four because they are one
resource shape (a point-in-time list) over four datasets; the aligned view of macro series
shares their as-of and range rules, so it lives here too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
import pandas as pd
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from sextant_common.events import INSTRUMENT_ID_PATTERN
from sextant_common.http_errors import bound_or_422, error_responses, field_error
from sextant_common.timeparse import BoundText, clamp_as_of
from sextant_datasets.facts.align import RULE, align_rows
from sextant_datasets.facts.store import (
    FUNDAMENTALS,
    MACRO,
    NEWS,
    SIGNALS,
    FactQuery,
    FactReader,
    FactSet,
    partition_dir,
)

router = APIRouter(tags=["fetched datasets"])

_ERRORS = error_responses({422: "A parameter is invalid (named in detail)"})


class _AsOfParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: BoundText | None = Field(None, description="Knowledge time; default now")
    source: str | None = Field(None, min_length=1, max_length=32, description="e.g. sec_edgar")


class _RangeParams(_AsOfParams):
    start: BoundText | None = Field(None, description="Inclusive bound on event time")
    end: BoundText | None = Field(None, description="Inclusive; a bare date covers the whole day")


class FundamentalsParams(_AsOfParams):
    """``GET /v1/fundamentals`` parameters."""

    entity: str = Field(min_length=1, max_length=64, description="Entity id, e.g. AAPL or a CIK")
    concept: str | None = Field(None, min_length=1, description="e.g. us-gaap:Revenues")


class MacroParams(_RangeParams):
    """``GET /v1/macro`` parameters (start/end bound the observation period)."""

    series: str = Field(min_length=1, max_length=128, description="Series id, e.g. FRED:GDPC1")


class NewsParams(_RangeParams):
    """``GET /v1/news`` parameters (start/end bound the publication time)."""

    instrument: str | None = Field(None, pattern=INSTRUMENT_ID_PATTERN, description="e.g. AAPL")
    limit: int = Field(100, ge=1, le=1000, description="Most articles, newest first")


class SignalsParams(_RangeParams):
    """``GET /v1/signals`` parameters (start/end bound the reading time)."""

    subject: str = Field(min_length=1, max_length=128, description="Instrument id or keyword")
    signal: str | None = Field(None, min_length=1, description="e.g. reddit.sentiment")


def _reader(request: Request) -> FactReader:
    reader: FactReader = request.app.state.fact_reader
    return reader


def _known_at(requested: str | None) -> tuple[datetime, str | None]:
    """The knowledge time of a query (default now; a future one is now, with a warning)."""
    now = datetime.now(UTC)
    return clamp_as_of(
        bound_or_422(requested, "as_of", now, end_of_day=True), now, requested=requested
    )


def _time_range(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    """Inclusive bounds (a bare ``end`` date covers its day); the widest range when absent;
    422 naming ``end`` when it is before ``start``."""
    low = bound_or_422(start, "start", datetime.min.replace(tzinfo=UTC))
    high = bound_or_422(end, "end", datetime.max.replace(tzinfo=UTC), end_of_day=True)
    if start is not None and end is not None and high < low:
        raise field_error("end", f"end ({end}) is before start ({start})")
    return low, high


def _answer(
    request: Request,
    fact_set: FactSet,
    params: _AsOfParams,
    echo: dict[str, Any],
    **query: Any,
) -> Response:
    as_of, warning = _known_at(params.as_of)
    if isinstance(params, _RangeParams):
        query["start"], query["end"] = _time_range(params.start, params.end)
    where = {"source": params.source, **query.pop("where", {})}
    rows = _reader(request).read(FactQuery(fact_set, as_of, where, **query))
    body = {
        **echo,
        "as_of": as_of,
        "count": len(rows),
        fact_set.name: rows,
        "warnings": [warning] if warning else [],
    }
    return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z), media_type="application/json")


@router.get("/v1/fundamentals", responses=_ERRORS)
def get_fundamentals(request: Request, params: Annotated[FundamentalsParams, Query()]) -> Response:
    """Reported facts of ``entity`` (optionally one ``concept``) as known at ``as_of``: per fact
    (source, concept, unit, period) the value learned last, by period end."""
    return _answer(
        request,
        FUNDAMENTALS,
        params,
        {"entity": params.entity},
        partition=partition_dir("entity", params.entity),
        where={"entity_id": params.entity, "concept": params.concept},
    )


@router.get("/v1/macro", responses=_ERRORS)
def get_macro(request: Request, params: Annotated[MacroParams, Query()]) -> Response:
    """Observations of ``series`` as known at ``as_of``: per (source, period) the vintage
    learned last, by period."""
    return _answer(
        request,
        MACRO,
        params,
        {"series": params.series},
        partition=partition_dir("series", params.series),
        where={"series_id": params.series},
    )


@router.get("/v1/news", responses=_ERRORS)
def get_news(request: Request, params: Annotated[NewsParams, Query()]) -> Response:
    """News articles (about ``instrument`` when given) known at ``as_of``, newest first."""
    return _answer(
        request,
        NEWS,
        params,
        {"instrument": params.instrument},
        instrument=params.instrument,
        limit=params.limit,
    )


@router.get("/v1/signals", responses=_ERRORS)
def get_signals(request: Request, params: Annotated[SignalsParams, Query()]) -> Response:
    """Alternative-data readings about ``subject`` (one ``signal`` when given) known at
    ``as_of``, by reading time."""
    return _answer(
        request,
        SIGNALS,
        params,
        {"subject": params.subject},
        partition=partition_dir("subject", params.subject),
        where={"subject": params.subject, "signal": params.signal},
    )


MAX_ALIGNED_SERIES = 50
"""Most series one ``/v1/macro/aligned`` request may name."""

MAX_ALIGNED_PERIODS = 1200
"""Most calendar rows one ``/v1/macro/aligned`` answer carries (100 years of months)."""

# One series id: 1-128 characters, no comma, no control character, no space at either end.
_SERIES_ID = r"[^,\x00-\x20](?:[^,\x00-\x1f]{0,126}[^,\x00-\x20])?"
_SERIES_LIST = rf"^{_SERIES_ID}(?:,{_SERIES_ID}){{0,{MAX_ALIGNED_SERIES - 1}}}$"

# A target period lasts at most a year and so does an observation's span: an observation
# starting more than two years before ``start`` cannot reach a period ending after it.
_READ_MARGIN = timedelta(days=2 * 366)


class MacroAlignedParams(BaseModel):
    """``GET /v1/macro/aligned`` parameters (start/end bound the calendar's period_end)."""

    model_config = ConfigDict(extra="forbid")

    series: str = Field(
        pattern=_SERIES_LIST,
        max_length=MAX_ALIGNED_SERIES * 129 - 1,
        description=(
            f"Comma-separated series ids, at most {MAX_ALIGNED_SERIES}, each 1-128 characters "
            "without a comma or surrounding space, e.g. FRED:GDPC1,WB:USA:NY.GDP.MKTP.CD"
        ),
        examples=["FRED:CPIAUCSL,WB:USA:NY.GDP.MKTP.CD"],
    )
    frequency: Literal["M", "Q", "A"] = Field("M", description="Target calendar: M, Q or A")
    method: Literal["last", "mean", "ffill"] = Field(
        "last",
        description=(
            "last (default): a period's latest observation, a lower-frequency value only at "
            "the period holding its end; mean: the mean of a period's observations; ffill: as "
            "last, and a lower-frequency value repeated in every period its span covers"
        ),
    )
    as_of: BoundText | None = Field(None, description="Knowledge time; default now")
    start: BoundText | None = Field(None, description="Inclusive bound on period_end")
    end: BoundText | None = Field(None, description="Inclusive; a bare date covers the whole day")


class MacroSeriesSeen(BaseModel):
    """What was read of one series: its stored sources, frequencies and units, and how many
    observations (the version known at ``as_of`` of each period near the window) there were."""

    sources: list[str]
    frequencies: list[str]
    units: list[str]
    observations: int


class MacroAlignedPublic(BaseModel):
    """Series on one calendar: ``columns[id][i]`` is the value of series ``id`` in the period
    ending ``period_end[i]`` (null: no value there)."""

    frequency: Literal["M", "Q", "A"]
    method: Literal["last", "mean", "ffill"]
    rule: str = Field(description="The alignment rule, in words")
    as_of: datetime
    period_end: list[date]
    columns: dict[str, list[float | None]] = Field(
        description="One list per series found, in the order asked, as long as period_end"
    )
    series: dict[str, MacroSeriesSeen]
    missing: list[str] = Field(
        description="Series asked for with no observation known at as_of near start..end"
    )
    warnings: list[str]


_ALIGNED_DESCRIPTION = f"""Several macro series (FRED, World Bank, IMF, French ...) on one
``frequency`` calendar, as known at ``as_of``: each period labeled by its last day, each series'
observations placed and aggregated by the rule in ``rule``, using per period the version
learned last by ``as_of``. A series with nothing known at ``as_of`` near the window is listed
in ``missing``, not an error.

Bounded work: at most {MAX_ALIGNED_SERIES} series per request, and at most
{MAX_ALIGNED_PERIODS} calendar periods per answer: when the periods with values within
start..end are more, the latest {MAX_ALIGNED_PERIODS} are answered with a warning (pass an
earlier ``end`` for the ones before)."""


@router.get(
    "/v1/macro/aligned",
    response_model=MacroAlignedPublic,
    responses=_ERRORS,
    description=_ALIGNED_DESCRIPTION,
)
def get_macro_aligned(
    request: Request, params: Annotated[MacroAlignedParams, Query()]
) -> MacroAlignedPublic:
    """Macro series on one calendar; :data:`_ALIGNED_DESCRIPTION` says how."""
    as_of, warning = _known_at(params.as_of)
    start, end = _time_range(params.start, params.end)
    warnings = [warning] if warning else []
    asked = list(dict.fromkeys(params.series.split(",")))
    read_start = start - _READ_MARGIN if params.start is not None else None
    rows = [
        row
        for series_id in asked
        for row in _reader(request).read(
            FactQuery(
                MACRO,
                as_of,
                {"series_id": series_id},
                partition=partition_dir("series", series_id),
                start=read_start,
                end=end if params.end is not None else None,
            )
        )
    ]
    frame = pd.DataFrame(rows, columns=list(MACRO.schema.names))
    table = align_rows(frame, params.frequency, params.method, as_of)
    if params.start is not None:
        table = table[table.index >= start]
    if params.end is not None:
        table = table[table.index <= end]
    if len(table) > MAX_ALIGNED_PERIODS:
        warnings.append(
            f"{len(table)} periods have values; answered the latest {MAX_ALIGNED_PERIODS} "
            f"(from {table.index[-MAX_ALIGNED_PERIODS]:%Y-%m-%d}); pass an earlier end for "
            "the ones before"
        )
        table = table.iloc[-MAX_ALIGNED_PERIODS:]
    seen = {
        str(series_id): MacroSeriesSeen(
            sources=sorted(group["source"].unique()),
            frequencies=sorted(group["frequency"].unique()),
            units=sorted(group["units"].unique()),
            observations=len(group),
        )
        for series_id, group in frame.groupby("series_id", sort=False)
    }
    for series_id, info in seen.items():
        if len(info.frequencies) > 1:
            warnings.append(
                f"{series_id} is stored at frequencies {', '.join(info.frequencies)}; the "
                "lake keeps one version per period, so its periods mix them"
            )
    found = [series_id for series_id in asked if series_id in seen]
    values = table.reindex(columns=found).astype(object)
    values = values.where(values.notna(), None)  # JSON has no NaN
    return MacroAlignedPublic(
        frequency=params.frequency,
        method=params.method,
        rule=RULE,
        as_of=as_of,
        period_end=[moment.date() for moment in table.index],
        columns={series_id: values[series_id].tolist() for series_id in found},
        series={series_id: seen[series_id] for series_id in found},
        missing=[series_id for series_id in asked if series_id not in seen],
        warnings=warnings,
    )
