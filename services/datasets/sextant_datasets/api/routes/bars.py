"""``GET /v1/bars``: one instrument's bars over a range, as known at a point in time."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated

import orjson
from fastapi import APIRouter, Header, HTTPException, Query, Response

from sextant_common.http_errors import bound_or_422, error_responses, field_error
from sextant_common.queries import BarsParams
from sextant_common.timeparse import EARLIEST, clamp_as_of
from sextant_datasets.api.deps import BarsCacheDep, CatalogDep, ReaderDep
from sextant_datasets.lake.reader import BAR_COLUMNS, BarsQuery, UnknownSymbol

router = APIRouter(tags=["bars"])


@router.get("/v1/bars", responses=error_responses({404: "Unknown symbol: no bars stored"}))
def get_bars(
    reader: ReaderDep,
    catalog: CatalogDep,
    cache: BarsCacheDep,
    params: Annotated[BarsParams, Query()],
    if_none_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Bars of ``symbol`` with start in [start, end], each at its latest revision known at
    ``as_of``. Without ``source``, a real source is preferred over ``simulated``. An ``as_of``
    in the future is answered as of now: the response's ``as_of`` is now and ``warnings`` says
    the requested time was clamped.

    Without ``as_of`` ("as known now") the answer is served from a cache until the next flush.
    Every answer carries a weak ``ETag`` (a hash of everything but ``as_of``): a client sending
    it back in ``If-None-Match`` gets ``304 Not Modified`` while the bars are unchanged.
    """
    latest_key = None if params.as_of else tuple(params.model_dump().items())
    version = catalog.version
    if latest_key is not None and (cached := cache.get(latest_key, version)) is not None:
        payload, etag = cached
        return _answer(payload, etag, if_none_match)
    now = datetime.now(UTC)
    as_of, as_of_warning = clamp_as_of(
        bound_or_422(params.as_of, "as_of", now, end_of_day=True), now, requested=params.as_of
    )
    query = BarsQuery(
        symbol=params.symbol,
        interval=params.interval.value,
        start=bound_or_422(params.start, "start", EARLIEST),
        end=bound_or_422(params.end, "end", now, end_of_day=True),
        as_of=as_of,
        source=params.source,
    )
    if query.end < query.start:
        raise field_error("end", f"end ({params.end}) is before start ({params.start})")
    try:
        used_source, rows = reader.bars(query)
    except UnknownSymbol as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    body = {
        "symbol": params.symbol,
        "interval": params.interval.value,
        "source": used_source,
        "as_of": query.as_of.isoformat().replace("+00:00", "Z"),
        "count": len(rows),
        "bars": [dict(zip(BAR_COLUMNS, row, strict=True)) for row in rows],
        "warnings": [as_of_warning] if as_of_warning else [],
    }
    payload = orjson.dumps(body)
    # Weak: two answers with the same bars are equivalent whatever their as_of time says.
    same_bars = orjson.dumps({k: v for k, v in body.items() if k != "as_of"})
    etag = f'W/"{hashlib.blake2b(same_bars, digest_size=16).hexdigest()}"'
    if latest_key is not None:
        cache.put(latest_key, version, (payload, etag))
    return _answer(payload, etag, if_none_match)


def _answer(payload: bytes, etag: str, if_none_match: str | None) -> Response:
    """The JSON answer with its ``ETag``, or ``304 Not Modified`` when the client holds it
    (weak comparison, RFC 9110 13.1.2)."""
    held = {t.strip().removeprefix("W/") for t in (if_none_match or "").split(",")}
    if etag.removeprefix("W/") in held or "*" in held:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(payload, media_type="application/json", headers={"ETag": etag})
