"""``GET /v1/factors``: Fama-French exposures of one instrument."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sextant_common.events import INSTRUMENT_ID_PATTERN, InstrumentId
from sextant_common.timeparse import BoundText
from sextant_quant.api.deps import (
    MARKET_DATA_ERRORS,
    MarketDataDep,
    closes_frame_or_http_error,
    closes_or_http_error,
    compute_or_422,
)
from sextant_quant.factors import FactorFit, FamaFrench3, load_shipped_ff3_monthly

router = APIRouter(tags=["factors"])

FACTOR_SOURCE = "Kenneth French data library, monthly FF3 shipped in arch.data.frenchdata"


class FactorParams(BaseModel):
    """Query of a factor regression."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=INSTRUMENT_ID_PATTERN)
    model: Literal["ff3"] = Field(
        "ff3", description="ff3 (shipped monthly data); ff5/carhart need the French provider"
    )
    start: BoundText | None = None
    end: BoundText | None = None


class Coefficient(BaseModel):
    """One regression coefficient with its Newey-West statistics."""

    name: str
    coef: float
    std_err: float
    t_stat: float
    p_value: float


class FactorExposurePublic(BaseModel):
    """A time-series regression of monthly excess returns on the model's factors."""

    symbol: str
    model: str
    frequency: str
    start: str
    end: str
    n_obs: int
    r_squared: float
    adj_r_squared: float
    alpha_annualized: float
    residual_vol_annualized: float
    hac_lags: int
    coefficients: list[Coefficient]
    factor_source: str


def monthly_returns(closes: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    """Month-end simple returns of daily closes."""
    return closes.resample("ME").last().pct_change().dropna()


def _public(fit: FactorFit, label: str, model: str) -> FactorExposurePublic:
    table = fit.summary()
    asset = fit.assets[0]
    return FactorExposurePublic(
        symbol=label,
        model=model,
        frequency="monthly",
        start=fit.residuals.index[0].strftime("%Y-%m-%d"),
        end=fit.residuals.index[-1].strftime("%Y-%m-%d"),
        n_obs=int(fit.n_obs),
        r_squared=float(fit.r_squared[asset]),
        adj_r_squared=float(fit.adj_r_squared[asset]),
        alpha_annualized=float(fit.alpha_annualized[asset]),
        residual_vol_annualized=float(fit.residual_vol_annualized[asset]),
        hac_lags=int(fit.hac_lags),
        coefficients=[
            Coefficient(
                name=str(name),
                coef=float(row["coef"]),
                std_err=float(row["std_err"]),
                t_stat=float(row["t_stat"]),
                p_value=float(np.clip(row["p_value"], 0.0, 1.0)),
            )
            for name, row in table.iterrows()
        ],
        factor_source=FACTOR_SOURCE,
    )


@router.get("/v1/factors", responses=MARKET_DATA_ERRORS)
async def factor_exposure(
    market: MarketDataDep, params: Annotated[FactorParams, Query()]
) -> FactorExposurePublic:
    """Regress the symbol's monthly excess returns on Fama-French 3 factors (HAC t-stats)."""
    closes = await closes_or_http_error(market, params.symbol, params.start, params.end)
    returns = monthly_returns(closes)
    factors = load_shipped_ff3_monthly()
    fit = await compute_or_422(
        lambda: FamaFrench3().fit(returns, factors, risk_free="RF"), "symbol"
    )
    return _public(fit, params.symbol, params.model)


class PortfolioFactorCreate(BaseModel):
    """A weighted portfolio of stored instruments."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[InstrumentId] = Field(min_length=1, max_length=500)
    weights: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(
        min_length=1, max_length=500
    )
    model: Literal["ff3"] = "ff3"
    start: BoundText | None = None
    end: BoundText | None = None

    @model_validator(mode="after")
    def _same_length(self) -> PortfolioFactorCreate:
        if len(self.symbols) != len(self.weights):
            raise ValueError(
                f"weights has {len(self.weights)} entries for {len(self.symbols)} symbols"
            )
        return self


class PortfolioExposurePublic(BaseModel):
    """Exposures two ways: weighted sum of each asset's betas, and a regression of the
    portfolio's own return series."""

    from_weights: dict[str, float]
    regression: FactorExposurePublic


@router.post("/v1/factors/portfolio", responses=MARKET_DATA_ERRORS)
async def portfolio_factor_exposure(
    market: MarketDataDep, body: PortfolioFactorCreate
) -> PortfolioExposurePublic:
    """Fama-French 3 exposures of a weighted portfolio (monthly, HAC t-stats)."""
    closes = await closes_frame_or_http_error(market, body.symbols, body.start, body.end)
    weights = pd.Series(body.weights, index=body.symbols)
    exposures = await compute_or_422(
        lambda: FamaFrench3().portfolio_exposures(
            weights, monthly_returns(closes), load_shipped_ff3_monthly(), risk_free="RF"
        ),
        "symbols",
        location="body",
    )
    return PortfolioExposurePublic(
        from_weights={str(k): float(v) for k, v in exposures.from_weights.items()},
        regression=_public(exposures.from_returns, "portfolio", body.model),
    )
