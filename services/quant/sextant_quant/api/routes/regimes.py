"""``GET /v1/regimes``: market regimes of one instrument (HMM or GARCH volatility regimes)."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

import pandas as pd
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from sextant_common.events import INSTRUMENT_ID_PATTERN
from sextant_common.timeparse import BoundText
from sextant_common.versioned_cache import VersionedCache
from sextant_quant.api.deps import (
    MARKET_DATA_ERRORS,
    MarketDataDep,
    closes_or_http_error,
    compute_or_422,
)
from sextant_quant.regimes import (
    HMMRegimeModel,
    LabelOrder,
    RegimeAnalyzer,
    fit_garch_regimes,
    fit_hmm_regimes,
)

router = APIRouter(tags=["regimes"])


class RegimeParams(BaseModel):
    """Query of a regime analysis on daily returns."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=INSTRUMENT_ID_PATTERN)
    method: Literal["hmm", "garch"] = "hmm"
    states: int = Field(3, ge=2, le=4, description="HMM states (2-4)")
    start: BoundText | None = None
    end: BoundText | None = None
    seed: int = Field(0, ge=0)
    history: int = Field(250, ge=0, le=20_000, description="Trailing days of labels returned")


class RegimeStats(BaseModel):
    """Performance of the instrument while in one regime (annualized where it says so)."""

    regime: str
    periods: int
    share: float
    ann_return: float
    ann_vol: float
    sharpe: float
    max_drawdown: float
    hit_rate: float
    avg_duration: float
    n_spells: int


class LabelOrderPublic(BaseModel):
    """Why the HMM's states carry their names, on the fit sample (the query's dates).

    Return names (bear < sideways < bull) are used only when the model's mean returns and the
    realized returns on the filtered path order the states alike; otherwise ``reason`` says why
    and the states are named by volatility (low-vol < mid-vol < high-vol) or numbered.
    Figures are annualized fractions by state name; null for a state that leads the filtered
    path on fewer than 2 dates."""

    consistent: bool = Field(description="true when the return names hold")
    named_by: Literal["return", "volatility", "number"]
    reason: str | None = Field(description="why the return names were not used; null if they were")
    realized_return_by_state: dict[str, float | None] = Field(
        description="mean return of the filtered path's dates in the state x periods per year"
    )
    model_return_by_state: dict[str, float] = Field(
        description="the fitted state's mean return, annualized the same way"
    )
    realized_vol_by_state: dict[str, float | None] = Field(
        description="standard deviation of the daily returns on the filtered path, annualized"
    )
    model_vol_by_state: dict[str, float] = Field(
        description="the fitted state's mean realized-vol feature (annualized)"
    )
    share_by_state: dict[str, float] = Field(
        description="fraction of the filtered path's dates on which the state is most probable"
    )

    @classmethod
    def of(cls, order: LabelOrder) -> LabelOrderPublic:
        """The wire form of a fitted model's ``LabelOrder``."""
        table = order.by_state

        def column(name: str) -> dict[str, float | None]:
            return {str(k): (float(v) if pd.notna(v) else None) for k, v in table[name].items()}

        return cls(
            consistent=order.consistent,
            named_by=order.named_by,
            reason=order.reason,
            realized_return_by_state=column("realized_return"),
            model_return_by_state={str(k): float(v) for k, v in table["model_return"].items()},
            realized_vol_by_state=column("realized_vol"),
            model_vol_by_state={str(k): float(v) for k, v in table["model_vol"].items()},
            share_by_state={str(k): float(v) for k, v in table["share"].items()},
        )


class RegimesPublic(BaseModel):
    """Regime labels and statistics. ``series_kind`` says whether labels use only past data.

    ``stats`` (per regime present on the label path: annualized return and vol, share of days,
    Sharpe, drawdown, hit rate, spells) are computed on that path; ``label_order`` (HMM only)
    says whether the names' return order holds and why not."""

    symbol: str
    method: str
    series_kind: str = Field(description="filtered: no look-ahead (usable live/backtest)")
    current: str
    current_probabilities: dict[str, float]
    stats: list[RegimeStats]
    dates: list[str]
    labels: list[str]
    label_order: LabelOrderPublic | None = Field(
        None, description="HMM: why the states carry their names; null for GARCH"
    )


@router.get("/v1/regimes", responses=MARKET_DATA_ERRORS)
async def regimes(
    request: Request, market: MarketDataDep, params: Annotated[RegimeParams, Query()]
) -> RegimesPublic:
    """Fit regimes on the symbol's daily returns; labels are the filtered (causal) path.

    HMM fits (several EM restarts, seconds each) and whole answers are kept per (query, data)
    so asking again about unchanged history is instant.
    """
    closes = await closes_or_http_error(market, params.symbol, params.start, params.end)
    returns = closes.pct_change().dropna()
    data_key = fingerprint(returns)
    answers: VersionedCache[RegimesPublic] = request.app.state.regime_answers
    if (answer := answers.get(params.model_dump_json(), data_key)) is not None:
        return answer
    answer = await _analyze(request, params, returns, data_key)
    answers.put(params.model_dump_json(), data_key, answer)
    return answer


def fingerprint(series: pd.Series) -> tuple[int, str]:
    """Identity of a series' dates and values (any revision changes it), for cache keys."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(series.index.asi8.tobytes())
    digest.update(series.to_numpy(dtype=float).tobytes())
    return len(series), digest.hexdigest()


async def _analyze(
    request: Request, params: RegimeParams, returns: pd.Series, data_key: tuple[int, str]
) -> RegimesPublic:
    """Fit (or reuse the fitted model), filter and describe the regimes of ``returns``."""
    if params.method == "hmm":
        fits: VersionedCache[HMMRegimeModel] = request.app.state.regime_fits
        key = (params.symbol, params.start, params.end, params.states, params.seed)
        model = fits.get(key, data_key)
        if model is None:
            model = await compute_or_422(
                lambda: fit_hmm_regimes(returns, params.states, seed=params.seed), "symbol"
            )
            fits.put(key, data_key, model)
        path = model.filter(returns)
        labels: pd.Series = path.states
        probabilities = {str(k): float(v) for k, v in path.probabilities.iloc[-1].items()}
        kind = path.kind
        label_order: LabelOrderPublic | None = LabelOrderPublic.of(model.label_order)
    else:
        garch = await compute_or_422(lambda: fit_garch_regimes(returns), "symbol")
        labels = garch.regimes.dropna()
        probabilities = {}
        kind = "filtered"
        label_order = None
    table = await compute_or_422(
        lambda: RegimeAnalyzer().analyze(returns.loc[labels.index], labels), "symbol"
    )
    tail = labels.iloc[-params.history :] if params.history else labels.iloc[:0]
    return RegimesPublic(
        symbol=params.symbol,
        method=params.method,
        series_kind=kind,
        current=str(labels.iloc[-1]),
        current_probabilities=probabilities,
        stats=[
            RegimeStats(regime=str(name), **{k: float(v) for k, v in row.items()})
            for name, row in table.iterrows()
        ],
        dates=[d.strftime("%Y-%m-%d") for d in tail.index],
        labels=[str(v) for v in tail],
        label_order=label_order,
    )
