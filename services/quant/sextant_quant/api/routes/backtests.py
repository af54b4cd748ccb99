"""Backtests and parameter sweeps as jobs.

``POST /v1/backtests`` / ``POST /v1/sweeps`` queue a job (202 with its state);
``GET /v1/backtests/{id}`` / ``GET /v1/sweeps/{id}`` return its latest state and, once done, the
result. With a client-chosen ``job_id`` a submit is idempotent and the client can subscribe to
the job's progress (``jobs.events.v1``, or ``job:<id>`` on the gateway WebSocket) beforehand.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from sextant_common.events import JobEvent, JobRequest
from sextant_common.http_errors import error_responses
from sextant_quant.jobs import backtest, sweep
from sextant_quant.jobs.backtest import BacktestCreate
from sextant_quant.jobs.runner import JobRunner
from sextant_quant.jobs.store import JobStore
from sextant_quant.jobs.sweep import SweepCreate

router = APIRouter(tags=["backtests"])

JobIdQuery = Annotated[
    str | None, Query(pattern=r"^[A-Za-z0-9]{8,64}$", description="Client-chosen id (idempotent)")
]


JobIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$", description="The job's id")]

SUBMIT_ERRORS = error_responses(
    {
        404: "No daily bars stored for the symbol(s); the job is not queued",
        429: "The job queue is full (Retry-After says when to try again)",
        503: "The job runner or the datasets service is unavailable (Retry-After)",
    }
)
LATEST_ERRORS = error_responses(
    {404: "No job of this kind with this id", 410: "The job's result is no longer stored"}
)


async def _submit(
    request: Request, kind: str, params: dict[str, Any], job_id: str | None
) -> JobEvent:
    store: JobStore = request.app.state.job_store
    if job_id is not None and (existing := store.get(job_id)) is not None:
        return existing
    runner: JobRunner = request.app.state.jobs
    job = JobRequest(
        job_id=job_id or uuid.uuid4().hex,
        kind=kind,
        params=params,
        ts_requested=datetime.now(UTC),
    )
    return await runner.submit(job)


def _latest(request: Request, kind: str, job_id: str) -> Response:
    store: JobStore = request.app.state.job_store
    event = store.get(job_id) if job_id.isalnum() else None
    if event is None or event.kind != kind:
        raise HTTPException(status_code=404, detail=f"no {kind} job {job_id!r}")
    return Response(event.to_bytes(), media_type="application/json")


@router.post("/v1/backtests", status_code=202, responses=SUBMIT_ERRORS)
async def create_backtest(
    request: Request, body: BacktestCreate, job_id: JobIdQuery = None
) -> JobEvent:
    """Queue a backtest of one strategy on one instrument."""
    return await _submit(request, backtest.KIND, body.model_dump(), job_id)


@router.get("/v1/backtests/{job_id}", responses=LATEST_ERRORS)
def get_backtest(request: Request, job_id: JobIdPath) -> Response:
    """The backtest's latest event: status, progress, and the result once it succeeded."""
    return _latest(request, backtest.KIND, job_id)


@router.post("/v1/sweeps", status_code=202, responses=SUBMIT_ERRORS)
async def create_sweep(request: Request, body: SweepCreate, job_id: JobIdQuery = None) -> JobEvent:
    """Queue an MA-cross parameter sweep over several instruments (in process or on Ray)."""
    return await _submit(request, sweep.KIND, body.model_dump(), job_id)


@router.get("/v1/sweeps/{job_id}", responses=LATEST_ERRORS)
def get_sweep(request: Request, job_id: JobIdPath) -> Response:
    """The sweep's latest event: status, progress, and the result grid once it succeeded."""
    return _latest(request, sweep.KIND, job_id)
