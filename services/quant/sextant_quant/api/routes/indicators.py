"""``GET /v1/indicators``: technical indicators of one instrument's daily bars (equal to
TA-Lib's), aligned with the bars' dates."""

from __future__ import annotations

from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from sextant_common.events import INSTRUMENT_ID_PATTERN
from sextant_common.http_errors import field_error
from sextant_common.timeparse import BoundText, parse_bound
from sextant_quant.api.deps import MARKET_DATA_ERRORS, MarketDataDep, compute_or_422, run_or_422
from sextant_quant.market_data import OHLCV, MarketDataError
from sextant_quant.technical.catalog import SPECS, IndicatorRequest, parse_indicator

router = APIRouter(tags=["indicators"])

MAX_INDICATORS = 20
SIMULATED = "simulated"
_SYNTAX = ", ".join(
    f"{name}" + "".join(f":{p.name}" for p in spec.params) for name, spec in SPECS.items()
)


class IndicatorsParams(BaseModel):
    """Query of indicators. Unknown parameters are rejected (422 naming them)."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=INSTRUMENT_ID_PATTERN)
    indicators: list[Annotated[str, Field(min_length=1)]] = Field(
        min_length=1,
        max_length=MAX_INDICATORS,
        description=(
            "Comma-separated (or repeated) name:param:param..., parameters left out take their "
            f"defaults; e.g. sma:20,macd:12:26:9,bbands:20:2,obv. Known: {_SYNTAX}"
        ),
    )
    start: BoundText | None = Field(None, description="First bar; default: the earliest")
    end: BoundText | None = Field(None, description="Last bar; default: the latest")


class IndicatorSeries(BaseModel):
    """One indicator's outputs, each aligned with ``dates`` (null during its warm-up)."""

    name: str
    key: str = Field(description="Canonical spelling with every parameter: macd:12:26:9")
    title: str
    params: dict[str, int | float]
    lookback: int = Field(
        description="Rows before every output has a value (ADX's +DI/-DI start earlier)"
    )
    outputs: dict[str, list[float | None]]


class IndicatorsPublic(BaseModel):
    """Daily indicators of ``symbol``; ``simulated`` says the bars are synthetic."""

    symbol: str
    source: str = Field(description="Provider of the bars; 'simulated' is synthetic data")
    simulated: bool
    interval: str = "1d"
    dates: list[str]
    indicators: list[IndicatorSeries]


def parse_indicators(texts: list[str]) -> list[IndicatorRequest]:
    """Every ``name:param...`` in ``texts`` (each may hold several, comma-separated), once each
    by canonical key, in the order asked."""
    parts = [part for text in texts for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError("no indicator asked")
    if len(parts) > MAX_INDICATORS:
        raise ValueError(f"at most {MAX_INDICATORS} indicators per request, got {len(parts)}")
    requests = {r.key: r for r in map(parse_indicator, parts)}
    return list(requests.values())


def _nullable(values: np.ndarray) -> list[float | None]:
    """Floats with NaN as None (JSON null)."""
    return [None if v != v else v for v in values.tolist()]


def compute_indicators(
    requests: list[IndicatorRequest], bars: pd.DataFrame, first: int = 0
) -> list[IndicatorSeries]:
    """Each request on ``bars`` (open/high/low/close/volume columns), answered from row
    ``first`` on: the rows before it are the warm-up. ``ValueError`` when the bars are fewer
    than an indicator needs for one value."""
    arrays = {field: bars[field].to_numpy(dtype=np.float64) for field in OHLCV}
    rows = len(bars)
    short = [f"{r.key} needs {r.lookback + 1} bars" for r in requests if r.lookback >= rows]
    if short:
        raise ValueError(f"too few bars up to end ({rows}): {'; '.join(short)}")
    return [
        IndicatorSeries(
            name=r.spec.name,
            key=r.key,
            title=r.spec.title,
            params=dict(r.values),
            lookback=r.lookback,
            outputs={name: _nullable(out[first:]) for name, out in r.compute(arrays).items()},
        )
        for r in requests
    ]


@router.get("/v1/indicators", responses=MARKET_DATA_ERRORS)
async def indicators(
    market: MarketDataDep, params: Annotated[IndicatorsParams, Query()]
) -> IndicatorsPublic:
    """Technical indicators of the symbol's daily bars in [start, end], equal to TA-Lib's
    (SMA, EMA, WMA, BBANDS, RSI, MACD, MOM, ROC, ATR, ADX with +DI/-DI, STOCH, WILLR, CCI, OBV,
    MFI) run over the whole history up to ``end``, so the bars before ``start`` are the warm-up;
    each output is aligned with ``dates``, null only where the history is too short."""
    requests = run_or_422(lambda: parse_indicators(params.indicators), "indicators")
    try:
        bars = await market.ohlcv(params.symbol, None, params.end)
    except MarketDataError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from None
    first = 0
    if params.start is not None:
        start = run_or_422(lambda: parse_bound(str(params.start), field="start"), "start")
        first = int(bars.index.searchsorted(pd.Timestamp(start).tz_convert(None)))
        if first == len(bars):
            raise field_error("start", f"no daily bars of {params.symbol} from {params.start}")
    series = await compute_or_422(lambda: compute_indicators(requests, bars, first), "indicators")
    source = str(bars.attrs.get("source") or "unknown")
    return IndicatorsPublic(
        symbol=params.symbol,
        source=source,
        simulated=source == SIMULATED,
        dates=[d.strftime("%Y-%m-%d") for d in bars.index[first:]],
        indicators=series,
    )
