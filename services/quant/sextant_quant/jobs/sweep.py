"""The ``sweep`` job: an MA-cross parameter grid over several stored instruments.

Runs in process (numba, ~50,000 backtests/s) or on Ray when ``SEXTANT_RAY_ADDRESS`` names a
cluster (or ``"ray": true`` asks for a local Ray), returning total return and Sharpe for every
(fast, slow) pair and instrument.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sextant_common.events import INSTRUMENT_ID_PATTERN
from sextant_quant.backtest import SweepResult, sweep_ma_cross
from sextant_quant.jobs.runner import Handler, Progress
from sextant_quant.market_data import MarketData, MarketDataError

KIND = "sweep"


class SweepCreate(BaseModel):
    """A grid of fast x slow moving-average windows over ``symbols``."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[str] = Field(min_length=1, max_length=1_000)
    fast: list[int] = Field(min_length=1, max_length=100)
    slow: list[int] = Field(min_length=1, max_length=100)
    kind: Literal["SMA", "EMA"] = "SMA"
    start: str | None = None
    end: str | None = None
    fees: float = Field(0.001, ge=0, lt=0.1)
    ray: bool = Field(False, description="Run on Ray even without SEXTANT_RAY_ADDRESS")

    @field_validator("symbols")
    @classmethod
    def _ids(cls, symbols: list[str]) -> list[str]:
        for symbol in symbols:
            if not re.fullmatch(INSTRUMENT_ID_PATTERN, symbol):
                raise ValueError(f"{symbol!r} is not an instrument id")
        return symbols

    @model_validator(mode="after")
    def _windows(self) -> SweepCreate:
        if min(self.fast + self.slow) < 1:
            raise ValueError("fast/slow windows must be >= 1")
        if not any(f < s for f in self.fast for s in self.slow):
            raise ValueError("no pair with fast < slow: every fast window is >= every slow one")
        return self

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """Every (fast, slow) with fast < slow."""
        return [(f, s) for f in self.fast for s in self.slow if f < s]


def sweep_handler(market: MarketData, ray_address: str | None) -> Handler:
    """The job handler bound to a market-data client and an optional Ray cluster."""

    async def run(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
        request = SweepCreate.model_validate(params)
        try:
            closes = await market.closes_frame(request.symbols, request.start, request.end)
        except MarketDataError as exc:
            raise ValueError(f"symbols: {exc}") from None
        await progress(0.2, f"{len(closes)} common daily bars for {len(request.symbols)} symbols")
        use_ray = bool(ray_address or request.ray)
        if use_ray:
            from sextant_quant.backtest.sweep_ray import sweep_on_ray

            sweep: Callable[..., SweepResult] = functools.partial(sweep_on_ray, address=ray_address)
        else:
            sweep = sweep_ma_cross
        compute = functools.partial(
            sweep,
            closes.to_numpy(),
            request.pairs,
            fast_kind=request.kind,
            slow_kind=request.kind,
            fees=request.fees,
        )
        result = await asyncio.to_thread(compute)
        best = np.unravel_index(np.nanargmax(result.sharpe), result.sharpe.shape)
        return {
            "engine": "ray" if use_ray else "numba in process",
            "bars": len(closes),
            "pairs": [list(p) for p in request.pairs],
            "symbols": request.symbols,
            "total_return": np.asarray(result.total_return).tolist(),
            "sharpe": np.asarray(result.sharpe).tolist(),
            "best": {
                "pair": list(request.pairs[int(best[0])]),
                "symbol": request.symbols[int(best[1])],
                "sharpe": float(result.sharpe[best]),
            },
        }

    return run
