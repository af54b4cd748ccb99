"""``GET /v1/bars``: one instrument's bars over a range, as known at a point in time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Query, Response

from sextant_common.events import Interval
from sextant_common.http_errors import field_error
from sextant_common.timeparse import parse_bound
from sextant_datasets.api.deps import ReaderDep
from sextant_datasets.lake.reader import BAR_COLUMNS, BarsQuery, UnknownSymbol

router = APIRouter(tags=["bars"])

EARLIEST = "1900-01-01"
SYMBOL_PATTERN = r"^[A-Za-z0-9.\-_:/^]{1,64}$"


def _bound(value: str | None, field: str, default: datetime, *, end: bool = False) -> datetime:
    if value is None:
        return default
    try:
        return parse_bound(value, field=field, end_of_day=end)
    except ValueError as exc:
        raise field_error(field, str(exc)) from None


@router.get("/v1/bars")
def get_bars(
    reader: ReaderDep,
    symbol: Annotated[str, Query(pattern=SYMBOL_PATTERN, description="Instrument id, e.g. SPX")],
    interval: Interval = Interval.D1,
    start: Annotated[str | None, Query(description="Inclusive; date or ISO datetime")] = None,
    end: Annotated[str | None, Query(description="Inclusive; a bare date covers the day")] = None,
    as_of: Annotated[str | None, Query(description="Knowledge time; default now")] = None,
    source: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """Bars of ``symbol`` with start in [start, end], each at its latest revision known at
    ``as_of``. Without ``source``, a real source is preferred over ``simulated``."""
    now = datetime.now(UTC)
    query = BarsQuery(
        symbol=symbol,
        interval=interval.value,
        start=_bound(start, "start", parse_bound(EARLIEST, field="start")),
        end=_bound(end, "end", now, end=True),
        as_of=_bound(as_of, "as_of", now, end=True),
        source=source,
    )
    if query.end < query.start:
        raise field_error("end", f"end ({end}) is before start ({start})")
    try:
        used_source, rows = reader.bars(query)
    except UnknownSymbol as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    body = {
        "symbol": symbol,
        "interval": interval.value,
        "source": used_source,
        "as_of": query.as_of.isoformat().replace("+00:00", "Z"),
        "count": len(rows),
        "bars": [dict(zip(BAR_COLUMNS, row, strict=True)) for row in rows],
    }
    return Response(orjson.dumps(body), media_type="application/json")
