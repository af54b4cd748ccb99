"""Backtests and parameter sweeps as jobs.

``POST /v1/backtests`` / ``POST /v1/sweeps`` queue a job (202 with its state);
``GET /v1/backtests/{id}`` / ``GET /v1/sweeps/{id}`` return its latest state and, once done, the
result. With a client-chosen ``job_id`` a submit is idempotent and the client can subscribe to
the job's progress (``jobs.events.v1``, or ``job:<id>`` on the gateway WebSocket) beforehand.

A submit answers 404 naming ``symbol``/``symbols`` the datasets service has no daily bars of, 422
naming ``symbols`` for a sweep above ``SEXTANT_QUANT_SWEEP_MAX_BACKTESTS`` (pairs x symbols), 429
with ``Retry-After`` when ``SEXTANT_QUANT_JOB_QUEUE_MAX`` jobs already wait, 503 with
``Retry-After`` while the job runner restarts.

A result larger than ``SEXTANT_QUANT_JOB_INLINE_RESULT_MAX_BYTES`` (e.g. a 100 x 100 grid over 52
symbols, ~20 MB) does not travel in the final job event: that event has ``result: null``,
``result_ref`` and a ``result_summary`` (engine, bars, best pair, warnings), and the ``GET`` below
returns the full ``result`` from the job store (the web fetches it when a succeeded event has no
result).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response

from sextant_common.events import JobEvent, JobRequest
from sextant_common.http_errors import error_responses, field_error
from sextant_quant.jobs import backtest, sweep
from sextant_quant.jobs.backtest import BacktestCreate
from sextant_quant.jobs.runner import JobQueueFull, JobRunner, RunnerUnavailable
from sextant_quant.jobs.store import JobStore
from sextant_quant.jobs.sweep import SweepCreate
from sextant_quant.market_data import MarketData, MarketDataError

router = APIRouter(tags=["backtests"])

JobIdQuery = Annotated[
    str | None, Query(pattern=r"^[A-Za-z0-9]{8,64}$", description="Client-chosen id (idempotent)")
]
JobIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$", description="The job's id")]

SUBMIT_ERRORS = error_responses(
    {
        404: "No daily bars stored for the symbol(s); the job is not queued",
        409: "The job_id is already used by a job of another kind",
        429: "The job queue is full (Retry-After says when to try again)",
        503: "The job runner or the datasets service is unavailable (Retry-After)",
    }
)
LATEST_ERRORS = error_responses(
    {404: "No job of this kind with this id", 410: "The job's result is no longer stored"}
)


async def _submit(
    request: Request,
    kind: str,
    params: dict[str, Any],
    job_id: str | None,
    check: Callable[[], Awaitable[None]],
) -> JobEvent:
    """Queue a new job after ``check`` (which raises the 4xx of a job that could only fail);
    a known ``job_id`` returns that job's latest state unchanged (409 if it is another kind)."""
    store: JobStore = request.app.state.job_store
    if job_id is not None and (existing := store.get(job_id)) is not None:
        if existing.kind != kind:
            raise HTTPException(
                status_code=409,
                detail=f"job_id {job_id!r} is already used by a {existing.kind} job",
            )
        return existing
    await check()
    runner: JobRunner = request.app.state.jobs
    job = JobRequest(
        job_id=job_id or uuid.uuid4().hex,
        kind=kind,
        params=params,
        ts_requested=datetime.now(UTC),
    )
    try:
        return await runner.submit(job)
    except JobQueueFull as exc:
        raise HTTPException(
            status_code=429,
            detail=str(exc),
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from None
    except RunnerUnavailable as exc:
        raise HTTPException(
            status_code=503,
            detail=str(exc),
            headers={"Retry-After": str(exc.retry_after_s)},
        ) from None


async def _require_daily_bars(request: Request, symbols: list[str], field: str) -> None:
    """404 naming ``field`` when the datasets service has no daily bars of some ``symbols``,
    so a job that could only fail is never queued."""
    market: MarketData = request.app.state.market_data
    try:
        missing = await market.missing_daily(symbols)
    except MarketDataError as exc:
        raise HTTPException(status_code=503, detail=f"cannot check {field}: {exc}") from None
    if missing:
        shown = ", ".join(missing[:20]) + (
            f" and {len(missing) - 20} more" if len(missing) > 20 else ""
        )
        raise HTTPException(
            status_code=404,
            detail=[
                {
                    "loc": ["body", field],
                    "msg": f"no daily bars stored for {shown} (see GET /api/v1/instruments)",
                    "type": "not_found",
                }
            ],
        )


def _latest(request: Request, kind: str, job_id: str) -> Response:
    store: JobStore = request.app.state.job_store
    event = store.get(job_id) if job_id.isalnum() else None
    if event is None or event.kind != kind:
        raise HTTPException(status_code=404, detail=f"no {kind} job {job_id!r}")
    if event.result_ref is None:
        return Response(event.to_bytes(), media_type="application/json")
    payload = store.result(event.result_ref)
    if payload is None:
        raise HTTPException(
            status_code=410, detail=f"the result of {kind} job {job_id!r} is no longer stored"
        )
    # The stored bytes are spliced in as they are: a 20 MB grid is not parsed again.
    body = {**event.model_dump(mode="json"), "result": orjson.Fragment(payload)}
    return Response(orjson.dumps(body), media_type="application/json")


@router.post("/v1/backtests", status_code=202, responses=SUBMIT_ERRORS)
async def create_backtest(
    request: Request, body: BacktestCreate, job_id: JobIdQuery = None
) -> JobEvent:
    """Queue a backtest of one strategy on one instrument."""

    async def check() -> None:
        await _require_daily_bars(request, [body.symbol], "symbol")

    return await _submit(request, backtest.KIND, body.model_dump(), job_id, check)


@router.get("/v1/backtests/{job_id}", responses=LATEST_ERRORS)
def get_backtest(request: Request, job_id: JobIdPath) -> Response:
    """The backtest's latest event: status, progress, and the result once it succeeded."""
    return _latest(request, backtest.KIND, job_id)


@router.post("/v1/sweeps", status_code=202, responses=SUBMIT_ERRORS)
async def create_sweep(request: Request, body: SweepCreate, job_id: JobIdQuery = None) -> JobEvent:
    """Queue an MA-cross parameter sweep over several instruments (in process or on Ray)."""

    async def check() -> None:
        limit: int = request.app.state.settings.quant_sweep_max_backtests
        if (reason := body.too_large(limit)) is not None:
            raise field_error("symbols", reason, location="body")
        await _require_daily_bars(request, body.symbols, "symbols")

    return await _submit(request, sweep.KIND, body.model_dump(), job_id, check)


@router.get("/v1/sweeps/{job_id}", responses=LATEST_ERRORS)
def get_sweep(request: Request, job_id: JobIdPath) -> Response:
    """The sweep's latest event: status, progress, and the result grid once it succeeded."""
    return _latest(request, sweep.KIND, job_id)
