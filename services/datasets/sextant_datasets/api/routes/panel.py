"""``GET /v1/panel``: every stored instrument's daily closes and volumes in one Arrow IPC stream.

Internal: the gateway does not mount it. The quant service's screener and correlation matrix
read the whole daily cross-section at once (500 instruments x 10 years is ~1.3M rows; one
request per symbol as JSON would cost seconds) and keep it parsed, revalidating it with
``If-None-Match`` before each query.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Annotated

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from sextant_common.http_errors import bound_or_422, error_responses, field_error
from sextant_common.timeparse import EARLIEST, BoundText
from sextant_datasets.api.deps import BarsCacheDep, CatalogDep
from sextant_datasets.api.routes.storage import ColdStorageDep
from sextant_datasets.lake.reader import CatalogEntry

router = APIRouter(tags=["panel"])

ARROW_STREAM = "application/vnd.apache.arrow.stream"
DAILY = "1d"
PANEL_SCHEMA = pa.schema(
    [
        ("instrument_id", pa.dictionary(pa.int32(), pa.string())),
        ("source", pa.dictionary(pa.int32(), pa.string())),
        ("asset_class", pa.dictionary(pa.int32(), pa.string())),
        ("ts_event", pa.timestamp("us", tz="UTC")),
        ("close", pa.float64()),
        ("volume", pa.float64()),
    ]
)
"""Columns of the stream: one row per (instrument, daily bar), sorted by instrument then time."""


class PanelParams(BaseModel):
    """``GET /v1/panel`` parameters. Unknown parameters are rejected (422 naming them)."""

    model_config = ConfigDict(extra="forbid")

    start: BoundText | None = Field(None, description="Inclusive; default: the earliest bar")
    end: BoundText | None = Field(None, description="Inclusive; a bare date covers the whole day")


def panel_etag(entries: list[CatalogEntry], params: PanelParams) -> str:
    """A weak ETag of the daily panel: a hash of the catalog's daily entries (instrument,
    source, asset class, first and last bar, rows: any stored daily bar, revision included,
    moves one of them) and the asked range as given. Intraday flushes leave it unchanged."""
    digest = hashlib.blake2b(repr((params.start, params.end)).encode(), digest_size=16)
    for e in entries:
        digest.update(
            repr((e.instrument_id, e.source, e.asset_class, e.first, e.last, e.rows)).encode()
        )
    return f'W/"panel-{digest.hexdigest()}"'


def client_holds(if_none_match: str | None, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, RFC 9110 13.1.2) or ``*``."""
    held = {t.strip().removeprefix("W/") for t in (if_none_match or "").split(",")}
    return etag.removeprefix("W/") in held or "*" in held


def encode_panel(bars: pa.Table, asset_classes: dict[str, str]) -> bytes:
    """``bars`` (``ColdStorageManager.read`` columns) as an Arrow IPC stream of
    :data:`PANEL_SCHEMA`, instrument ids, sources and asset classes dictionary-encoded."""
    instruments = pc.dictionary_encode(bars.column("instrument_id").combine_chunks())
    classes = pa.array([asset_classes.get(i, "") for i in instruments.dictionary.to_pylist()])
    table = pa.table(
        [
            instruments,
            pc.dictionary_encode(bars.column("source").combine_chunks()),
            pa.DictionaryArray.from_arrays(instruments.indices, classes),
            bars.column("ts_event").cast(pa.timestamp("us", tz="UTC")),
            bars.column("close"),
            bars.column("volume"),
        ],
        schema=PANEL_SCHEMA,
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, PANEL_SCHEMA) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue())


@router.get(
    "/v1/panel",
    response_class=Response,
    responses={
        200: {"content": {ARROW_STREAM: {}}, "description": "Arrow IPC stream of PANEL_SCHEMA"},
        304: {"description": "The panel named in If-None-Match is unchanged"},
        **error_responses({422: "A bad start or end (names the field)"}),
    },
)
def get_panel(
    catalog: CatalogDep,
    manager: ColdStorageDep,
    cache: BarsCacheDep,
    params: Annotated[PanelParams, Query()],
    if_none_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """Every instrument's daily bars with start in [start, end] as stored now (latest revision;
    one source per instrument, a real one before ``simulated``), as an Arrow IPC stream
    (``application/vnd.apache.arrow.stream``) of :data:`PANEL_SCHEMA`: closes and volumes in
    the instrument's price units and shares (or contracts).

    The weak ``ETag`` moves only when daily bars are stored (see :func:`panel_etag`); sent back
    in ``If-None-Match`` it gets ``304 Not Modified``. The encoded stream is cached for it.
    """
    start = bound_or_422(params.start, "start", EARLIEST)
    end = bound_or_422(params.end, "end", datetime.now(UTC), end_of_day=True)
    if end < start:
        raise field_error("end", f"end ({params.end}) is before start ({params.start})")
    daily = [e for e in catalog.entries() if e.interval == DAILY]
    etag = panel_etag(daily, params)
    if client_holds(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    key = ("panel", params.start, params.end)
    cached = cache.get(key, etag)
    if cached is None:
        symbols = sorted({e.instrument_id for e in daily})
        bars = manager.read(symbols, DAILY, start, end)
        cached = (encode_panel(bars, {e.instrument_id: e.asset_class for e in daily}), etag)
        cache.put(key, etag, cached)
    return Response(cached[0], media_type=ARROW_STREAM, headers={"ETag": etag})
