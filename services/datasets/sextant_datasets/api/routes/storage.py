"""``/v1/storage``: what the lake holds on disk, compaction, integrity and calendar gaps.

- ``GET /v1/storage/stats``: partitions, files, bytes, rows per (dataset, interval, symbol).
- ``POST /v1/storage/compact``: merge small files (optionally one symbol and/or interval).
- ``GET /v1/storage/integrity``: readability, schema, sha256 per file, duplicates, misplaced rows.
- ``GET /v1/storage/gaps``: holes in one series on an exchange calendar: missing sessions of
  daily bars, missing bars (inside sessions; every bar on 24/7) of intraday ones; ``ok`` says
  whether no gap is longer than ``max_gap`` sessions or bars (``unit`` says which).

The manager is ``app.state.cold_storage`` when the app sets one, else it is made on first use
over the reader's lake root.
"""

from __future__ import annotations

import threading
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from sextant_common.events import INSTRUMENT_ID_PATTERN, Interval
from sextant_common.http_errors import bound_or_422, error_responses, field_error
from sextant_common.timeparse import EARLIEST, BoundText
from sextant_datasets.cold import ColdStorageManager, CompactionPolicy
from sextant_datasets.cold.calendars import UnknownCalendar
from sextant_datasets.lake.reader import UnknownSymbol

router = APIRouter(prefix="/v1/storage", tags=["storage"])

_made = threading.Lock()


def _manager(request: Request) -> ColdStorageManager:
    state = request.app.state
    with _made:
        manager: ColdStorageManager | None = getattr(state, "cold_storage", None)
        if manager is None:
            manager = state.cold_storage = ColdStorageManager(state.reader.root)
    return manager


ColdStorageDep = Annotated[ColdStorageManager, Depends(_manager)]
UNKNOWN_SYMBOL = error_responses({404: "Unknown symbol: none of its bars are stored"})
EMPTY_JSON_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "``{}``: the parameters are in the query string; the JSON content type is "
        "what keeps other sites' pages from triggering a compaction",
        "content": {"application/json": {"schema": {"type": "object", "maxProperties": 0}}},
    }
}
"""Body of ``POST /compact``: every POST is ``application/json`` (sextant_common.content_type)."""


class ScopeParams(BaseModel):
    """Optional narrowing to one symbol and/or interval. Unknown parameters are rejected."""

    model_config = ConfigDict(extra="forbid")

    symbol: str | None = Field(None, pattern=INSTRUMENT_ID_PATTERN, description="e.g. SPX")
    interval: Interval | None = None


class CompactParams(ScopeParams):
    """``POST /v1/storage/compact`` parameters."""

    force: bool = Field(False, description="Compact every partition with two or more files")
    max_files: int = Field(4, ge=1, description="Compact partitions with more files than this")


class IntegrityParams(ScopeParams):
    """``GET /v1/storage/integrity`` parameters."""

    include_files: bool = Field(True, description="List every file with its sha256")


class GapParams(BaseModel):
    """``GET /v1/storage/gaps`` parameters."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=INSTRUMENT_ID_PATTERN, description="Instrument id, e.g. SPX")
    interval: Interval = Interval.D1
    start: BoundText | None = Field(None, description="First date checked; default first stored")
    end: BoundText | None = Field(None, description="Last date checked; default last stored")
    calendar: str | None = Field(
        None, description="exchange_calendars name (XNYS, 24/7, 24/5 ...); default by asset class"
    )
    source: str | None = Field(None, max_length=32, description="Default: real before simulated")
    max_gap: int = Field(0, ge=0, description="ok is true when no gap exceeds this many sessions")


def _json(body: dict[str, Any]) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


def _require_symbol(manager: ColdStorageManager, scope: ScopeParams) -> None:
    interval = scope.interval.value if scope.interval else None
    if scope.symbol is not None and not manager.has_symbol(scope.symbol, interval):
        what = f"{interval} bars" if interval else "bars"
        raise HTTPException(404, detail=f"unknown symbol {scope.symbol!r}: no {what} stored")


def _bound(value: str | None, field: str, *, end: bool = False) -> datetime | None:
    if value is None:
        return None
    return bound_or_422(value, field, EARLIEST, end_of_day=end)


@router.get("/stats", responses=UNKNOWN_SYMBOL)
def get_stats(manager: ColdStorageDep, params: Annotated[ScopeParams, Query()]) -> Response:
    """Partitions, files, bytes and rows per (dataset, interval, symbol), with totals."""
    _require_symbol(manager, params)
    interval = params.interval.value if params.interval else None
    return _json(manager.stats(symbol=params.symbol, interval=interval).public())


@router.post("/compact", responses=UNKNOWN_SYMBOL, openapi_extra=EMPTY_JSON_BODY)
def compact(
    request: Request, manager: ColdStorageDep, params: Annotated[CompactParams, Query()]
) -> Response:
    """Merge each selected partition's files into one; returns what was merged. Blocks for the
    manager's grace period before deleting the merged inputs."""
    _require_symbol(manager, params)
    policy = CompactionPolicy(
        max_files=params.max_files,
        small_file_bytes=manager.policy.small_file_bytes,
        force=params.force,
    )
    interval = params.interval.value if params.interval else None
    result = manager.compact(symbol=params.symbol, interval=interval, policy=policy)
    catalog = getattr(request.app.state, "catalog", None)
    if catalog is not None:  # row counts changed if duplicates were dropped
        catalog.invalidate()
    return _json(asdict(result))


@router.get("/integrity", responses=UNKNOWN_SYMBOL)
def get_integrity(manager: ColdStorageDep, params: Annotated[IntegrityParams, Query()]) -> Response:
    """Every file readable with BAR_SCHEMA, its sha256, duplicate keys and misplaced rows."""
    _require_symbol(manager, params)
    interval = params.interval.value if params.interval else None
    report = manager.integrity(symbol=params.symbol, interval=interval)
    return _json(report.public(include_files=params.include_files))


@router.get("/gaps", responses=UNKNOWN_SYMBOL)
def get_gaps(manager: ColdStorageDep, params: Annotated[GapParams, Query()]) -> Response:
    """Holes in one series on its exchange calendar; ``ok`` when no gap is longer than
    ``max_gap`` (``max_gap=1``: no gap of more than one trading day).

    Daily bars are counted in sessions (``start``/``end`` are dates); intraday bars in bars
    (``start``/``end`` may be datetimes), each gap naming the hole's start, end and missing
    bars: a 35 s hole in 5 s bars is a gap of 7 bars even though every day has bars."""
    start = _bound(params.start, "start")
    end = _bound(params.end, "end", end=True)
    if start is not None and end is not None and end < start:
        raise field_error("end", f"end ({params.end}) is before start ({params.start})")
    daily = params.interval is Interval.D1
    try:
        report = manager.gap_report(
            params.symbol,
            params.interval.value,
            start.date() if daily and start is not None else start,
            end.date() if daily and end is not None else end,
            calendar=params.calendar,
            source=params.source,
        )
    except UnknownSymbol as exc:
        raise HTTPException(404, detail=str(exc)) from None
    except UnknownCalendar as exc:
        raise field_error("calendar", str(exc)) from None
    except ValueError as exc:
        raise field_error("end", str(exc)) from None
    return _json(report.public(params.max_gap))
