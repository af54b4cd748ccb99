"""``/api/v1/backtests`` and ``/api/v1/sweeps``: backtests run as jobs by the quant service.

``POST`` queues one (202 with the job id; a bad strategy text is a 422 naming ``strategy`` and
its bad token); ``GET /{job_id}`` returns its latest state and, once done, the result. Progress
also streams over ``WS /ws`` with ``{"subscribe_jobs": [job_id]}``.
"""

from __future__ import annotations

import bisect

import orjson
from fastapi import APIRouter, Request, Response

from sextant_gateway.api.deps import QuantClient, forward, forward_charged

router = APIRouter(prefix="/api/v1/backtests", tags=["backtests"], include_in_schema=False)


@router.post("", status_code=202)
async def create_backtest(request: Request, quant: QuantClient) -> Response:
    """Queue a backtest: ``{"symbol": "SPX", "strategy": "50SMA.200EMA", ...}`` (one unit of
    the caller's ``backtests`` quota)."""
    return await forward_charged(quant, "/v1/backtests", request, "backtests")


@router.get("/{job_id}")
async def get_backtest(job_id: str, request: Request, quant: QuantClient) -> Response:
    """State, progress and result of a backtest job."""
    return await forward(quant, f"/v1/backtests/{job_id}", request)


sweeps = APIRouter(prefix="/api/v1/sweeps", tags=["backtests"], include_in_schema=False)


@sweeps.post("", status_code=202)
async def create_sweep(request: Request, quant: QuantClient) -> Response:
    """Queue an MA-cross grid: ``{"symbols": [...], "fast": [10, 20], "slow": [50, 100]}``
    (:func:`sweep_cells` units of the caller's ``sweeps`` quota)."""
    cells = sweep_cells(await request.body())
    return await forward_charged(quant, "/v1/sweeps", request, "sweeps", cells)


def sweep_cells(body: bytes) -> int:
    """Backtests a sweep body asks for: distinct symbols x (fast, slow) pairs with fast < slow,
    as the quant service counts them; 1 for a body that is not a sweep (the service refuses it).
    O(n log n) in the windows given, whatever their number."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return 1
    if not isinstance(data, dict):
        return 1
    symbols, fast, slow = data.get("symbols"), data.get("fast"), data.get("slow")
    if not (isinstance(symbols, list) and isinstance(fast, list) and isinstance(slow, list)):
        return 1
    slows = sorted({s for s in slow if isinstance(s, int)})
    pairs = sum(
        len(slows) - bisect.bisect_right(slows, f) for f in {f for f in fast if isinstance(f, int)}
    )
    names = {s.upper() for s in symbols if isinstance(s, str)}
    return max(1, len(names) * pairs)


@sweeps.get("/{job_id}")
async def get_sweep(job_id: str, request: Request, quant: QuantClient) -> Response:
    """State, progress and result grid of a sweep job."""
    return await forward(quant, f"/v1/sweeps/{job_id}", request)
