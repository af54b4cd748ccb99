"""``/v1/snapshots``: freeze an as-of bars query into a verifiable snapshot, then read it back.

``POST /v1/snapshots`` saves (201 with the manifest; the same rows always give the same id),
``GET /v1/snapshots`` lists, ``GET /v1/snapshots/{id}`` is the manifest, ``.../verify`` re-hashes
every file (200 with ``ok`` true or false) and ``.../data`` returns the rows as JSON, or as an
Arrow IPC stream with ``?format=arrow``. A snapshot that fails verification is refused with 409.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
import pyarrow as pa
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from sextant_common.events import InstrumentId, Interval
from sextant_common.http_errors import bound_or_422, error_responses, field_error
from sextant_common.timeparse import EARLIEST, BoundText
from sextant_datasets.lake.reader import UnknownSymbol
from sextant_datasets.snapshots import (
    DatasetManager,
    EmptySnapshot,
    Snapshot,
    SnapshotQuery,
    SnapshotTampered,
    UnknownSnapshot,
    VerifyReport,
)
from sextant_datasets.snapshots.model import ID_PATTERN

router = APIRouter(tags=["snapshots"])

ARROW_STREAM = "application/vnd.apache.arrow.stream"
_manager_lock = threading.Lock()


def _manager(request: Request) -> DatasetManager:
    """The app's snapshot manager, created on first use next to the reader's lake."""
    state = request.app.state
    manager: DatasetManager | None = getattr(state, "snapshots", None)
    if manager is None:
        with _manager_lock:
            manager = getattr(state, "snapshots", None)
            if manager is None:
                manager = state.snapshots = DatasetManager(state.reader)
    return manager


ManagerDep = Annotated[DatasetManager, Depends(_manager)]
READ_ERRORS = error_responses(
    {404: "No snapshot with this id", 409: "The snapshot failed verification; not served"}
)
SnapshotId = Annotated[str, Path(pattern=ID_PATTERN, description="32 lowercase hex digits")]


class SnapshotCreate(BaseModel):
    """``POST /v1/snapshots`` body. Times are dates or ISO datetimes (UTC); a bare ``end`` or
    ``as_of`` date covers that whole day."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[InstrumentId] = Field(min_length=1, max_length=1000)
    interval: Interval = Interval.D1
    start: BoundText | None = Field(None, description="Inclusive bar start; default 1900-01-01")
    end: BoundText | None = Field(None, description="Inclusive bar start; default now")
    as_of: BoundText | None = Field(
        None, description="Knowledge time; default now; not in the future"
    )
    source: str | None = Field(None, max_length=32, description="Default: real before simulated")


class SnapshotPublic(Snapshot):
    """A snapshot's manifest."""


class SnapshotsPublic(BaseModel):
    """Every stored snapshot, oldest first."""

    data: list[SnapshotPublic]
    count: int


class VerifyReportPublic(VerifyReport):
    """The result of re-hashing a snapshot's files and rows."""


class DataFormat(StrEnum):
    """Encodings of ``GET /v1/snapshots/{id}/data``."""

    JSON = "json"
    ARROW = "arrow"


def _tampered(exc: SnapshotTampered) -> HTTPException:
    return HTTPException(
        status_code=409,
        detail={
            "msg": f"snapshot {exc.report.id} failed verification; it will not be served",
            "problems": list(exc.report.problems),
        },
    )


@contextlib.contextmanager
def _as_http_errors() -> Iterator[None]:
    """Unknown snapshot ids become 404, snapshots failing verification 409."""
    try:
        yield
    except UnknownSnapshot as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except SnapshotTampered as exc:
        raise _tampered(exc) from None


@router.post(
    "/v1/snapshots",
    status_code=201,
    response_model=SnapshotPublic,
    responses=error_responses(
        {
            404: "No bars stored for one of the symbols (names it)",
            409: "The stored snapshot with these rows failed verification",
        }
    ),
)
def create_snapshot(manager: ManagerDep, body: SnapshotCreate) -> Snapshot:
    """Freeze the as-of answer to a bars query. Saving rows already stored returns the existing
    snapshot (same id, its original manifest)."""
    now = datetime.now(UTC)
    start = bound_or_422(body.start, "start", EARLIEST, location="body")
    end = bound_or_422(body.end, "end", now, end_of_day=True, location="body")
    as_of = bound_or_422(body.as_of, "as_of", now, end_of_day=True, location="body")
    if end < start:
        raise field_error(
            "end", f"end ({body.end}) is before start ({body.start})", location="body"
        )
    if as_of > now:
        raise field_error(
            "as_of",
            f"as_of ({body.as_of}) is in the future; a snapshot only freezes what is known",
            location="body",
        )
    query = SnapshotQuery(
        symbols=tuple(body.symbols),
        interval=body.interval,
        start=start,
        end=end,
        source=body.source,
    )
    try:
        return manager.save_snapshot(query, as_of)
    except UnknownSymbol as exc:  # a well-formed id the lake does not hold: not found
        raise HTTPException(
            status_code=404,
            detail=[{"loc": ["body", "symbols"], "msg": str(exc), "type": "not_found"}],
        ) from None
    except EmptySnapshot as exc:
        raise field_error("start", str(exc), location="body") from None
    except SnapshotTampered as exc:
        raise _tampered(exc) from None


@router.get("/v1/snapshots", response_model=SnapshotsPublic)
def list_snapshots(manager: ManagerDep) -> dict[str, Any]:
    """Every stored snapshot's manifest, oldest first."""
    snapshots = manager.list_snapshots()
    return {"data": snapshots, "count": len(snapshots)}


@router.get("/v1/snapshots/{snapshot_id}", response_model=SnapshotPublic, responses=READ_ERRORS)
def get_snapshot(manager: ManagerDep, snapshot_id: SnapshotId) -> Snapshot:
    """The manifest of one snapshot."""
    with _as_http_errors():
        return manager.get_snapshot(snapshot_id)


@router.get(
    "/v1/snapshots/{snapshot_id}/verify", response_model=VerifyReportPublic, responses=READ_ERRORS
)
def verify_snapshot(manager: ManagerDep, snapshot_id: SnapshotId) -> VerifyReport:
    """Re-hash every file and the rows; 200 with ``ok`` false and the problems when tampered."""
    with _as_http_errors():
        return manager.verify(snapshot_id)


@router.get(
    "/v1/snapshots/{snapshot_id}/data",
    responses={
        200: {
            "description": "Rows as JSON, or an Arrow IPC stream with ``format=arrow``",
            "content": {"application/json": {}, ARROW_STREAM: {}},
        },
        **READ_ERRORS,
    },
)
def get_snapshot_data(
    manager: ManagerDep,
    snapshot_id: SnapshotId,
    format: Annotated[DataFormat, Query(description="json rows or an Arrow IPC stream")] = (
        DataFormat.JSON
    ),
) -> Response:
    """The snapshot's rows, verified before they are sent. JSON timestamps are ISO-8601 UTC."""
    with _as_http_errors():
        table = manager.load_snapshot(snapshot_id)
    if format is DataFormat.ARROW:
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        return Response(sink.getvalue().to_pybytes(), media_type=ARROW_STREAM)
    body = {
        "id": snapshot_id,
        "count": table.num_rows,
        "rows": table.to_pylist(),
    }
    return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z), media_type="application/json")
