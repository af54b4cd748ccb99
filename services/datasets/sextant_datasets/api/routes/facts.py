"""``GET /v1/fundamentals``, ``/v1/macro``, ``/v1/news``, ``/v1/signals``: the fetched datasets
as known at a point in time.

Each answers the rows known at ``as_of`` (default now; a future ``as_of`` is answered as of now
with a warning), one per identity: the value learned last by then (see
:mod:`sextant_datasets.facts.store` for the natural keys and the as-of rule). Nothing stored
for the query is an empty list, not an error. One file for the four because they are one
resource shape (a point-in-time list) over four datasets.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from sextant_common.events import INSTRUMENT_ID_PATTERN
from sextant_common.http_errors import bound_or_422, error_responses, field_error
from sextant_common.timeparse import BoundText, clamp_as_of
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


def _answer(
    request: Request,
    fact_set: FactSet,
    params: _AsOfParams,
    echo: dict[str, Any],
    **query: Any,
) -> Response:
    now = datetime.now(UTC)
    as_of, warning = clamp_as_of(
        bound_or_422(params.as_of, "as_of", now, end_of_day=True), now, requested=params.as_of
    )
    if isinstance(params, _RangeParams):
        query["start"] = bound_or_422(params.start, "start", datetime.min.replace(tzinfo=UTC))
        query["end"] = bound_or_422(
            params.end, "end", datetime.max.replace(tzinfo=UTC), end_of_day=True
        )
        if params.start is not None and params.end is not None and query["end"] < query["start"]:
            raise field_error("end", f"end ({params.end}) is before start ({params.start})")
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
