"""``POST /v1/backtests`` (a job) and ``GET /v1/backtests/{id}`` (its state or result)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response

from sextant_common.events import JobEvent, JobRequest
from sextant_quant.jobs.backtest import KIND, BacktestCreate
from sextant_quant.jobs.runner import JobRunner
from sextant_quant.jobs.store import JobStore

router = APIRouter(tags=["backtests"])


@router.post("/v1/backtests", status_code=202)
async def create_backtest(
    request: Request,
    body: BacktestCreate,
    job_id: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z0-9]{8,64}$", description="Client-chosen id (idempotent)"),
    ] = None,
) -> JobEvent:
    """Queue a backtest; poll ``GET /v1/backtests/{job_id}`` or watch ``jobs.events.v1``.

    With a client-chosen ``job_id`` the call is idempotent (a known id returns its state), and
    the client can subscribe to the job's progress before submitting it.
    """
    store: JobStore = request.app.state.job_store
    if job_id is not None and (existing := store.get(job_id)) is not None:
        return existing
    runner: JobRunner = request.app.state.jobs
    job = JobRequest(
        job_id=job_id or uuid.uuid4().hex,
        kind=KIND,
        params=body.model_dump(),
        ts_requested=datetime.now(UTC),
    )
    return await runner.submit(job)


@router.get("/v1/backtests/{job_id}")
def get_backtest(request: Request, job_id: str) -> Response:
    """The job's latest event: status, progress, and the result once it succeeded."""
    store: JobStore = request.app.state.job_store
    event = store.get(job_id) if job_id.isalnum() else None
    if event is None or event.kind != KIND:
        raise HTTPException(status_code=404, detail=f"no backtest job {job_id!r}")
    return Response(event.to_bytes(), media_type="application/json")
