"""The ``sweep`` job: an MA-cross parameter grid over several stored instruments.

Runs in process (numba, ~50,000 backtests/s of 2,520 bars per core) or on Ray when
``SEXTANT_RAY_ADDRESS`` names a cluster (or ``"ray": true`` asks for a local Ray), returning total
return and Sharpe for every (fast, slow) pair and instrument.

Limits: repeated symbols and windows count once; a sweep may hold at most ``max_backtests``
(pairs x symbols, ``SEXTANT_QUANT_SWEEP_MAX_BACKTESTS``, 600,000 by default: a 100 x 100 grid
over 60 symbols, ~12 s on one core for 2,520 bars). In process it uses all cores but one, with
the GIL released, so the API keeps answering while it runs.

Windows longer than the data do not fail the job (as in QuantConnect, where indicators that never
warm up simply never trade): those pairs report no trades and the result's ``warnings`` say how
many pairs could never signal and why.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from typing import Annotated, Any, Literal

import numba
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sextant_common.events import InstrumentId
from sextant_common.timeparse import BoundText
from sextant_quant.backtest import SweepResult, sweep_ma_cross
from sextant_quant.jobs.runner import Handler, Progress
from sextant_quant.market_data import MarketData, MarketDataError

KIND = "sweep"
DEFAULT_MAX_BACKTESTS = 600_000


Window = Annotated[int, Field(ge=1, description="Moving-average window in bars")]


class SweepCreate(BaseModel):
    """A grid of fast x slow moving-average windows over ``symbols`` (repeats count once)."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[InstrumentId] = Field(min_length=1, max_length=1_000)
    fast: list[Window] = Field(min_length=1, max_length=100)
    slow: list[Window] = Field(min_length=1, max_length=100)
    kind: Literal["SMA", "EMA"] = "SMA"
    start: BoundText | None = None
    end: BoundText | None = None
    fees: float = Field(0.001, ge=0, lt=0.1)
    ray: bool = Field(False, description="Run on Ray even without SEXTANT_RAY_ADDRESS")

    @field_validator("symbols")
    @classmethod
    def _ids(cls, symbols: list[str]) -> list[str]:
        return list(dict.fromkeys(symbols))

    @field_validator("fast", "slow")
    @classmethod
    def _distinct(cls, windows: list[int]) -> list[int]:
        return list(dict.fromkeys(windows))

    @model_validator(mode="after")
    def _windows(self) -> SweepCreate:
        if not any(f < s for f in self.fast for s in self.slow):
            raise ValueError("no pair with fast < slow: every fast window is >= every slow one")
        return self

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """Every (fast, slow) with fast < slow."""
        return [(f, s) for f in self.fast for s in self.slow if f < s]

    def too_large(self, max_backtests: int) -> str | None:
        """Why the sweep exceeds ``max_backtests`` (pairs x symbols), or None if it fits."""
        pairs, symbols = len(self.pairs), len(self.symbols)
        if pairs * symbols <= max_backtests:
            return None
        return (
            f"{pairs:,} (fast, slow) pairs x {symbols:,} symbols = {pairs * symbols:,} backtests, "
            f"more than the {max_backtests:,} one sweep may run; split the symbols into sweeps "
            f"of at most {max(1, max_backtests // pairs):,}"
        )


def no_signal_warnings(pairs: list[tuple[int, int]], bars: int) -> list[str]:
    """Why some pairs cannot trade: a moving average needs ``window`` bars before its first
    value and a cross needs one more bar, so a slow window >= ``bars`` never signals."""
    dead = [p for p in pairs if p[1] >= bars]
    if not dead:
        return []
    longest = max(s for _, s in dead)
    return [
        f"{len(dead)} of {len(pairs)} pairs have a slow window >= the {bars} common daily bars "
        f"(longest {longest}): no signal possible, they report 0 trades; widen start/end or "
        "shorten the windows"
    ]


def sweep_threads(threads: int | None) -> int:
    """Cores an in-process sweep uses: ``threads``, else all but one (at least one)."""
    available = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
    wanted = threads if threads is not None else (os.cpu_count() or 1) - 1
    return max(1, min(available, wanted))


def _run_in_process(threads: int, *args: Any, **kwargs: Any) -> SweepResult:
    numba.set_num_threads(threads)  # per calling thread: the API's threads keep the default
    return sweep_ma_cross(*args, **kwargs)


def sweep_handler(
    market: MarketData,
    ray_address: str | None,
    *,
    max_backtests: int = DEFAULT_MAX_BACKTESTS,
    threads: int | None = None,
) -> Handler:
    """The job handler bound to a market-data client and an optional Ray cluster."""

    async def run(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
        request = SweepCreate.model_validate(params)
        if (reason := request.too_large(max_backtests)) is not None:
            raise ValueError(f"symbols: {reason}")
        try:
            closes = await market.closes_frame(request.symbols, request.start, request.end)
        except MarketDataError as exc:
            raise ValueError(f"symbols: {exc}") from None
        await progress(0.2, f"{len(closes)} common daily bars for {len(request.symbols)} symbols")
        use_ray = bool(ray_address or request.ray)
        sweep: Callable[..., SweepResult]
        if use_ray:
            from sextant_quant.backtest.sweep_ray import sweep_on_ray

            sweep = functools.partial(sweep_on_ray, address=ray_address)
        else:
            sweep = functools.partial(_run_in_process, sweep_threads(threads))
        compute = functools.partial(
            sweep,
            closes.to_numpy(),
            request.pairs,
            fast_kind=request.kind,
            slow_kind=request.kind,
            fees=request.fees,
        )
        result = await asyncio.to_thread(compute)
        sharpe = np.asarray(result.sharpe)
        best: dict[str, Any] | None = None
        if np.isfinite(sharpe).any():
            at = np.unravel_index(np.nanargmax(sharpe), sharpe.shape)
            best = {
                "pair": list(request.pairs[int(at[0])]),
                "symbol": request.symbols[int(at[1])],
                "sharpe": float(sharpe[at]),
            }
        return {
            "engine": "ray" if use_ray else "numba in process",
            "bars": len(closes),
            "start": closes.index[0].strftime("%Y-%m-%d"),
            "end": closes.index[-1].strftime("%Y-%m-%d"),
            "pairs": [list(p) for p in request.pairs],
            "symbols": request.symbols,
            "total_return": np.asarray(result.total_return),
            "sharpe": sharpe,
            "best": best,
            "warnings": no_signal_warnings(request.pairs, len(closes)),
        }

    return run
