"""``GET /v1/factors``: factor exposures of one instrument (Fama-French 3 and 5, Carhart 4) on the
shipped monthly factor data, their rolling exposures and return attribution; and
``POST /v1/factors/portfolio``: exposures of a weighted portfolio."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from sextant_common.events import INSTRUMENT_ID_PATTERN, InstrumentId
from sextant_common.http_errors import bound_or_422, field_error
from sextant_common.timeparse import EARLIEST, BoundText
from sextant_quant.api.deps import (
    MARKET_DATA_ERRORS,
    MarketDataDep,
    closes_frame_or_http_error,
    closes_or_http_error,
    compute_or_422,
)
from sextant_quant.factors import Attribution, FactorData, FactorFit, ShippedModel, factor_data
from sextant_quant.factors.models import INTERCEPT

router = APIRouter(tags=["factors"])

MODEL_DESCRIPTION = (
    "ff3: Fama-French 3 (Mkt-RF, SMB, HML; data 1926-07..2018-11); ff5: Fama-French 5 (adds "
    "RMW, CMA; data 1963-07..2021-01); carhart: Carhart 4 (FF3 + Mom; data 1949-01..2017-03)"
)
FREQUENCY = "monthly"
PERIODS_PER_YEAR = 12.0


class FactorParams(BaseModel):
    """Query of a factor regression: month-end returns of ``symbol`` between ``start`` and
    ``end`` (each must lie inside the model's factor data) minus the risk-free rate."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=INSTRUMENT_ID_PATTERN)
    model: ShippedModel = Field("ff3", description=MODEL_DESCRIPTION)
    start: BoundText | None = None
    end: BoundText | None = None


class RollingParams(FactorParams):
    """Query of rolling exposures: one regression per window of ``window`` months."""

    window: int = Field(36, ge=1, le=1200, description="months per regression window (at least 24)")


class Coefficient(BaseModel):
    """One regression coefficient with its Newey-West statistics."""

    name: str
    coef: float
    std_err: float
    t_stat: float
    p_value: float


class FactorDataPublic(BaseModel):
    """The factor returns a model was fitted on: their source and the months they cover."""

    source: str
    start: str = Field(description="first day of the factor data's first month")
    end: str = Field(description="last day of the factor data's last month")

    @classmethod
    def of(cls, data: FactorData) -> FactorDataPublic:
        """The public description of shipped factor data."""
        return cls(
            source=data.source,
            start=f"{data.first_month_start:%Y-%m-%d}",
            end=f"{data.last_month_end:%Y-%m-%d}",
        )


class FactorAnswer(BaseModel):
    """What every factor answer says about its inputs."""

    symbol: str
    model: str
    frequency: str = Field(FREQUENCY, description="sampling of the regressions")
    factor_data: FactorDataPublic


class FactorExposurePublic(FactorAnswer):
    """A time-series regression of monthly excess returns on the model's factors; alpha and
    residual volatility are annualized fractions (x12 and x sqrt 12)."""

    start: str
    end: str
    n_obs: int
    r_squared: float
    adj_r_squared: float
    alpha_annualized: float
    residual_vol_annualized: float
    hac_lags: int
    coefficients: list[Coefficient]


class RollingExposuresPublic(FactorAnswer):
    """Alpha, betas and R² of every full ``window``-month regression, dated by its last month."""

    window: int
    dates: list[str]
    alpha_annualized: list[float] = Field(description="alpha x 12, fraction per year")
    betas: dict[str, list[float]]
    r_squared: list[float]


class AttributionPublic(FactorAnswer):
    """The monthly excess return split into beta x factor return per factor, alpha and the
    residual (fractions per month), with the coefficients of one regression over the window.
    ``cumulative`` holds running arithmetic sums (not compounded); its last values are the
    window's totals, and per month the components add up to ``excess_return``."""

    start: str
    end: str
    n_obs: int
    coefficients: dict[str, float] = Field(description="alpha (per month) and the betas")
    dates: list[str]
    components: list[str]
    per_period: dict[str, list[float]]
    cumulative: dict[str, list[float]]


def monthly_returns(closes: pd.Series | pd.DataFrame) -> pd.Series | pd.DataFrame:
    """Month-end simple returns of daily closes."""
    return closes.resample("ME").last().pct_change().dropna()


def require_coverage(
    data: FactorData, start: str | None, end: str | None, location: str = "query"
) -> None:
    """A 422 naming ``start`` or ``end`` when either lies outside the months the model's factor
    data covers."""
    first, last = data.first_month_start.date(), data.last_month_end.date()
    for field, value in (("start", start), ("end", end)):
        if value is None:
            continue
        asked = bound_or_422(value, field, EARLIEST, end_of_day=field == "end", location=location)
        if not first <= asked.date() <= last:
            raise field_error(
                field,
                f"{field}={value} is outside the {data.model.name} factor data ({data.span}, "
                f"{data.source}); ask within it",
                location=location,
            )


def require_overlap(
    returns: pd.Series | pd.DataFrame,
    data: FactorData,
    field: str,
    label: str,
    location: str = "query",
) -> None:
    """A 422 naming ``field`` when the monthly returns of ``label`` share no month with the
    model's factor data (e.g. a history that starts after the data ends)."""
    if len(returns.index.intersection(data.returns.index)):
        return
    months = f"{returns.index[0]:%Y-%m}..{returns.index[-1]:%Y-%m}" if len(returns) else "none"
    raise field_error(
        field,
        f"the monthly returns of {label} ({months}) share no month with the {data.model.name} "
        f"factor data ({data.span}); choose a symbol, window or model that overlaps it",
        location=location,
    )


async def _sample(market: MarketDataDep, params: FactorParams) -> tuple[pd.Series, FactorData]:
    data = factor_data(params.model)
    require_coverage(data, params.start, params.end)
    closes = await closes_or_http_error(market, params.symbol, params.start, params.end)
    returns = monthly_returns(closes)
    require_overlap(returns, data, "symbol", params.symbol)
    return returns, data


def _dates(index: pd.Index) -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in index]


def _floats(values: Sequence[float] | np.ndarray | pd.Series) -> list[float]:
    return [float(v) for v in values]


def _public(fit: FactorFit, label: str, model: str, data: FactorData) -> FactorExposurePublic:
    table = fit.summary()
    asset = fit.assets[0]
    dates = _dates(fit.residuals.index)
    return FactorExposurePublic(
        symbol=label,
        model=model,
        factor_data=FactorDataPublic.of(data),
        start=dates[0],
        end=dates[-1],
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
    )


@router.get("/v1/factors", responses=MARKET_DATA_ERRORS)
async def factor_exposure(
    market: MarketDataDep, params: Annotated[FactorParams, Query()]
) -> FactorExposurePublic:
    """Regress the symbol's monthly excess returns on the model's factors (Newey-West t-stats)."""
    returns, data = await _sample(market, params)
    fit = await compute_or_422(
        lambda: data.model().fit(returns, data.returns, risk_free="RF"), "symbol"
    )
    return _public(fit, params.symbol, params.model, data)


@router.get("/v1/factors/rolling", responses=MARKET_DATA_ERRORS)
async def rolling_factor_exposure(
    market: MarketDataDep, params: Annotated[RollingParams, Query()]
) -> RollingExposuresPublic:
    """Exposures over every full window of ``window`` months (for a factor chart over time)."""
    returns, data = await _sample(market, params)
    rolling = await compute_or_422(
        lambda: data.model().rolling_exposures(
            returns, data.returns, window=params.window, risk_free="RF"
        ),
        "window",
    )
    return RollingExposuresPublic(
        symbol=params.symbol,
        model=params.model,
        factor_data=FactorDataPublic.of(data),
        window=params.window,
        dates=_dates(rolling.index),
        alpha_annualized=_floats(rolling[INTERCEPT] * PERIODS_PER_YEAR),
        betas={f: _floats(rolling[f]) for f in data.model.default_factors},
        r_squared=_floats(rolling["r_squared"]),
    )


def _attribute(data: FactorData, returns: pd.Series) -> tuple[FactorFit, Attribution]:
    model = data.model()
    fit = model.fit(returns, data.returns, risk_free="RF")
    return fit, model.attribute(returns, data.returns, fit=fit, risk_free="RF")


@router.get("/v1/factors/attribution", responses=MARKET_DATA_ERRORS)
async def factor_attribution(
    market: MarketDataDep, params: Annotated[FactorParams, Query()]
) -> AttributionPublic:
    """Split the symbol's monthly excess returns into factor contributions, alpha and residual,
    per month and cumulative, with betas fitted over the same months."""
    returns, data = await _sample(market, params)
    fit, attribution = await compute_or_422(lambda: _attribute(data, returns), "symbol")
    by_period = attribution.by_period.rename(columns={"total": "excess_return"})
    components = [*fit.factors, INTERCEPT, "residual"]
    cumulative = by_period.cumsum()
    dates = _dates(by_period.index)
    return AttributionPublic(
        symbol=params.symbol,
        model=params.model,
        factor_data=FactorDataPublic.of(data),
        start=dates[0],
        end=dates[-1],
        n_obs=attribution.n_obs,
        coefficients={str(k): float(v) for k, v in fit.coefficients.iloc[0].items()},
        dates=dates,
        components=components,
        per_period={c: _floats(by_period[c]) for c in by_period.columns},
        cumulative={c: _floats(cumulative[c]) for c in cumulative.columns},
    )


class PortfolioFactorCreate(BaseModel):
    """A weighted portfolio of stored instruments."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[InstrumentId] = Field(min_length=1, max_length=500)
    weights: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(
        min_length=1, max_length=500
    )
    model: ShippedModel = Field("ff3", description=MODEL_DESCRIPTION)
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
    """Factor exposures of a weighted portfolio (monthly, Newey-West t-stats)."""
    data = factor_data(body.model)
    require_coverage(data, body.start, body.end, location="body")
    closes = await closes_frame_or_http_error(market, body.symbols, body.start, body.end)
    returns = monthly_returns(closes)
    require_overlap(returns, data, "symbols", ", ".join(body.symbols), location="body")
    weights = pd.Series(body.weights, index=body.symbols)
    exposures = await compute_or_422(
        lambda: data.model().portfolio_exposures(weights, returns, data.returns, risk_free="RF"),
        "symbols",
        location="body",
    )
    return PortfolioExposurePublic(
        from_weights={str(k): float(v) for k, v in exposures.from_weights.items()},
        regression=_public(exposures.from_returns, "portfolio", body.model, data),
    )
