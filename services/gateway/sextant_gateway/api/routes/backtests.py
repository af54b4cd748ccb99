"""``/api/v1/backtests`` and ``/api/v1/sweeps``: backtests run as jobs by the quant service.

``POST`` queues one (202 with the job id; a bad strategy text is a 422 naming ``strategy`` and
its bad token); ``GET /{job_id}`` returns its latest state and, once done, the result. Progress
also streams over ``WS /ws`` with ``{"subscribe_jobs": [job_id]}``.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from sextant_gateway.api.deps import QuantClient, forward

router = APIRouter(prefix="/api/v1/backtests", tags=["backtests"], include_in_schema=False)


@router.post("", status_code=202)
async def create_backtest(request: Request, quant: QuantClient) -> Response:
    """Queue a backtest: ``{"symbol": "SPX", "strategy": "50SMA.200EMA", ...}``."""
    return await forward(quant, "/v1/backtests", request)


@router.get("/{job_id}")
async def get_backtest(job_id: str, request: Request, quant: QuantClient) -> Response:
    """State, progress and result of a backtest job."""
    return await forward(quant, f"/v1/backtests/{job_id}", request)


sweeps = APIRouter(prefix="/api/v1/sweeps", tags=["backtests"], include_in_schema=False)


@sweeps.post("", status_code=202)
async def create_sweep(request: Request, quant: QuantClient) -> Response:
    """Queue an MA-cross grid: ``{"symbols": [...], "fast": [10, 20], "slow": [50, 100]}``."""
    return await forward(quant, "/v1/sweeps", request)


@sweeps.get("/{job_id}")
async def get_sweep(job_id: str, request: Request, quant: QuantClient) -> Response:
    """State, progress and result grid of a sweep job."""
    return await forward(quant, f"/v1/sweeps/{job_id}", request)
