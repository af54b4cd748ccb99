"""The ``backtest`` job: a strategy spec run on one instrument's stored daily history."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sextant_common.events import INSTRUMENT_ID_PATTERN
from sextant_common.timeparse import BoundText
from sextant_quant.backtest import (
    BAR_DTYPE,
    Commission,
    Slippage,
    SpecStrategy,
    Trades,
    parse_spec,
    run_events,
    run_spec,
    summarize,
)
from sextant_quant.backtest.specs import STRATEGY_PATTERN
from sextant_quant.jobs.runner import Handler, Progress
from sextant_quant.market_data import MarketData, MarketDataError

KIND = "backtest"
MAX_CURVE_POINTS = 2_000


class BacktestCreate(BaseModel):
    """A backtest request: ``strategy`` uses the command-bar form, e.g. ``50SMA.200EMA``."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=INSTRUMENT_ID_PATTERN)
    # The pattern is documentation (parse_spec validates, with a message naming the bad token).
    strategy: str = Field(
        min_length=1,
        max_length=64,
        examples=["50SMA.200EMA"],
        json_schema_extra={"pattern": STRATEGY_PATTERN},
        description="50SMA.200EMA, SMA(50,200), MOM(126), MR(20,2,0.5) or BH, optionally with "
        "/LS (shorts) and /REG (regime filter); any case; a cross's fast window below its slow",
    )
    start: BoundText | None = None
    end: BoundText | None = None
    init_cash: float = Field(100_000.0, gt=0)
    fees: float = Field(0.001, ge=0, lt=0.1, description="Fraction of traded value")
    slippage: float = Field(0.0, ge=0, lt=0.1, description="Fraction of price")
    engine: Literal["vectorized", "event"] = Field(
        "vectorized", description="event: bar-by-bar orders, fills and ledger (same rules)"
    )

    @field_validator("strategy")
    @classmethod
    def _parses(cls, text: str) -> str:
        parse_spec(text)  # raises ValueError naming the bad token
        return text


def _curve(dates: pd.DatetimeIndex, values: np.ndarray) -> dict[str, list[Any]]:
    step = max(1, len(values) // MAX_CURVE_POINTS)
    picks = list(range(0, len(values), step))
    if picks[-1] != len(values) - 1:
        picks.append(len(values) - 1)
    return {
        "dates": [dates[i].strftime("%Y-%m-%d") for i in picks],
        "values": [float(values[i]) for i in picks],
    }


ENGINES = {
    "vectorized": "vectorized (vectorbt from_signals conventions, fill at signal close)",
    "event": "event-driven (orders, fills at signal close, commission, slippage, ledger)",
}

RunOutput = tuple[np.ndarray, np.ndarray, Trades]


def _run_vectorized(request: BacktestCreate, bars: pd.DataFrame) -> RunOutput:
    result = run_spec(
        bars["close"].to_numpy(),
        parse_spec(request.strategy),
        init_cash=request.init_cash,
        fees=request.fees,
        slippage=request.slippage,
    )
    return result.equity, result.position, result.trades


def _run_events(request: BacktestCreate, bars: pd.DataFrame) -> RunOutput:
    frame = np.zeros(len(bars), dtype=BAR_DTYPE)
    frame["ts"] = pd.DatetimeIndex(bars.index).as_unit("ns").asi8
    for field in ("open", "high", "low", "close", "volume"):
        frame[field] = bars[field].to_numpy()
    result = run_events(
        {request.symbol: frame},
        SpecStrategy(parse_spec(request.strategy)),
        init_cash=request.init_cash,
        commission=Commission(percent=request.fees),
        slippage=Slippage(request.slippage),
    )
    delta = np.zeros(len(bars))
    for fill in result.fills:
        delta[fill.bar_index] += fill.qty
    return result.equity, np.cumsum(delta), result.trades[request.symbol]


def no_signal_warnings(strategy: str, bars: int) -> list[str]:
    """Why a backtest cannot trade: the strategy's indicators need more bars than the range
    holds. Like QuantConnect, the backtest still runs (flat, 0 trades) and says so."""
    warmup = int(parse_spec(strategy).warmup)
    if warmup == 0 or bars > warmup + 1:
        return []
    return [
        f"{strategy} needs more than {warmup + 1} daily bars before it can signal, the range "
        f"holds {bars}: no signal possible, 0 trades; widen start/end or shorten the windows"
    ]


def backtest_handler(market: MarketData) -> Handler:
    """The job handler bound to a market-data client."""

    async def run(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
        request = BacktestCreate.model_validate(params)
        try:
            bars = await market.ohlcv(request.symbol, request.start, request.end)
        except MarketDataError as exc:
            raise ValueError(f"symbol: {exc}") from None
        if bars.empty:
            raise ValueError(
                f"start/end: no daily bars of {request.symbol} between "
                f"{request.start or 'the earliest'} and {request.end or 'the latest'}"
            )
        await progress(0.2, f"{len(bars)} daily bars loaded")
        run = _run_events if request.engine == "event" else _run_vectorized
        equity, position, trades = await asyncio.to_thread(run, request, bars)
        prices = bars["close"].to_numpy()
        summary = summarize(equity, position, prices, trades, init_cash=request.init_cash)
        dates = bars.index
        return {
            "warnings": no_signal_warnings(request.strategy, len(bars)),
            "request": request.model_dump(),
            "engine": ENGINES[request.engine],
            "bars": len(bars),
            "start": dates[0].strftime("%Y-%m-%d"),
            "end": dates[-1].strftime("%Y-%m-%d"),
            "summary": dataclasses.asdict(summary),
            "equity": _curve(dates, equity),
            "trades": [
                {
                    "entry": dates[int(trades.entry_index[i])].strftime("%Y-%m-%d"),
                    "exit": None
                    if trades.is_open[i]
                    else dates[int(trades.exit_index[i])].strftime("%Y-%m-%d"),
                    "direction": "long" if trades.direction[i] > 0 else "short",
                    "entry_price": float(trades.entry_price[i]),
                    "exit_price": float(trades.exit_price[i]),
                    "size": float(trades.size[i]),
                    "pnl": float(trades.pnl[i]),
                    "return": float(trades.returns[i]),
                }
                for i in range(len(trades.pnl))
            ],
        }

    return run
