"""``POST /v1/risk/var`` and ``POST /v1/risk/stress``: portfolio risk from lake history."""

from __future__ import annotations

import asyncio
import dataclasses
import math
from typing import TYPE_CHECKING, Annotated, Any, Literal, get_type_hints

import pandas as pd
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from sextant_common.events import InstrumentId
from sextant_common.http_errors import field_error
from sextant_common.timeparse import BoundText
from sextant_quant.api.deps import (
    MARKET_DATA_ERRORS,
    MarketDataDep,
    closes_frame_or_http_error,
    closes_or_http_error,
    compute_or_422,
)
from sextant_quant.risk import (
    STANDARD_SHOCKS,
    Portfolio,
    Position,
    VaRResult,
    covid_2020_03,
    gfc_2008,
    portfolio_var,
    rates_2022,
    shock_scenario,
)

router = APIRouter(tags=["risk"])

Method = Literal["historical", "normal", "cornish_fisher", "monte_carlo_normal", "monte_carlo_t"]


class VaRCreate(BaseModel):
    """A portfolio of stored instruments and how to measure its risk."""

    model_config = ConfigDict(extra="forbid")

    symbols: list[InstrumentId] = Field(min_length=1, max_length=500)
    weights: list[Annotated[float, Field(allow_inf_nan=False)]] = Field(
        min_length=1, max_length=500, description="Fractions of portfolio value, finite"
    )
    method: Method = "historical"
    confidence: float = Field(0.99, gt=0, lt=1)
    horizon: float = Field(1.0, gt=0, description="In days")
    vol_model: Literal["sample", "ewma", "garch"] = "sample"
    start: BoundText | None = None
    end: BoundText | None = None
    seed: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _same_length(self) -> VaRCreate:
        if len(self.symbols) != len(self.weights):
            raise ValueError(
                f"weights has {len(self.weights)} entries for {len(self.symbols)} symbols"
            )
        return self


class VaRPublic(BaseModel):
    """VaR and CVaR as positive fractions of portfolio value over ``horizon`` days."""

    method: str
    confidence: float
    horizon: float
    var: float
    cvar: float
    n_obs: int
    start: str
    end: str


VAR_FIELDS = ("weights", "vol_model", "confidence", "horizon", "method")


def _checked_var(returns: pd.DataFrame, body: VaRCreate) -> VaRResult:
    """``portfolio_var`` with its ValueError as a 422 naming the input it is about (symbols
    when it is about the history) and a non-finite answer as a 422 naming ``weights``."""
    try:
        result = portfolio_var(
            returns.to_numpy(),
            body.weights,
            method=body.method,
            confidence=body.confidence,
            horizon=body.horizon,
            vol_model=body.vol_model,
            seed=body.seed,
        )
    except ValueError as exc:
        field = next((f for f in VAR_FIELDS if f in str(exc)), "symbols")
        raise field_error(field, str(exc), location="body") from None
    if not (math.isfinite(result.var) and math.isfinite(result.cvar)):
        raise field_error(
            "weights",
            f"VaR/CVaR are not finite numbers (var={result.var}, cvar={result.cvar}): the "
            "weights overflow floating point; give them as fractions of portfolio value",
            location="body",
        )
    return result


@router.post("/v1/risk/var", responses=MARKET_DATA_ERRORS)
async def value_at_risk(market: MarketDataDep, body: VaRCreate) -> VaRPublic:
    """VaR/CVaR of the weighted portfolio on the symbols' common daily history."""
    closes = await closes_frame_or_http_error(market, body.symbols, body.start, body.end)
    returns = closes.pct_change().dropna()
    result = await asyncio.to_thread(_checked_var, returns, body)
    return VaRPublic(
        method=result.method,
        confidence=result.confidence,
        horizon=result.horizon,
        var=result.var,
        cvar=result.cvar,
        n_obs=len(returns),
        start=returns.index[0].strftime("%Y-%m-%d"),
        end=returns.index[-1].strftime("%Y-%m-%d"),
    )


AssetClassName = Literal["equity", "fixed_income", "option", "fx", "commodity", "cash"]
POSITION_CONSTRAINTS: dict[str, Any] = {
    "asset_class": AssetClassName,
    "id": Annotated[str, Field(min_length=1)],
    "currency": Annotated[str, Field(min_length=1)],
    "implied_vol": Annotated[float, Field(ge=0, description="A fraction, 0.20 = 20%")],
}
"""Field types of ``PositionCreate`` that say in the schema what ``Position`` checks."""


def _position_model() -> type[BaseModel]:
    """``PositionCreate``: the fields, types and defaults of the ``Position`` dataclass, with
    ``asset_class`` as its string values and :data:`POSITION_CONSTRAINTS`, so the request body
    cannot drift from the dataclass."""
    hints = get_type_hints(Position)
    fields: dict[str, Any] = {
        f.name: (
            POSITION_CONSTRAINTS.get(f.name, hints[f.name]),
            ... if f.default is dataclasses.MISSING else f.default,
        )
        for f in dataclasses.fields(Position)
    }
    return create_model(
        "PositionCreate",
        # strict: a JSON true/false is not a number; no NaN or infinity in a position
        __config__=ConfigDict(extra="forbid", strict=True, allow_inf_nan=False),
        __doc__="A position and its sensitivities (see sextant_quant.risk.Position for units).",
        __module__=__name__,
        **fields,
    )


if TYPE_CHECKING:
    PositionCreate = BaseModel
else:
    PositionCreate = _position_model()


class StressCreate(BaseModel):
    """A portfolio to run through the standard and historical scenarios."""

    model_config = ConfigDict(extra="forbid")

    positions: list[PositionCreate] = Field(min_length=1)
    base_currency: str = Field("USD", min_length=1)


class ScenarioPublic(BaseModel):
    """P&L of one scenario: total, as a return on gross value, and per position."""

    scenario: str
    description: str
    total: float
    total_return: float | None = Field(description="None when the gross value is 0")
    by_position: dict[str, float]


@router.post("/v1/risk/stress", responses=MARKET_DATA_ERRORS)
async def stress(market: MarketDataDep, body: StressCreate) -> list[ScenarioPublic]:
    """Standard shocks (equity -20%, rates +100bp, vol x2, FX) and historical scenarios: GFC
    2008-09/10 measured on the stored S&P 500, COVID 2020-03 and 2022 rates (documented moves)."""
    spx = await closes_or_http_error(market, "SPX", "2008-09-01", "2008-10-31")
    portfolio = await compute_or_422(
        lambda: Portfolio(
            # Position.__post_init__ turns the asset_class string into an AssetClass.
            tuple(Position(**p.model_dump()) for p in body.positions),
            base_currency=body.base_currency,
        ),
        "positions",
        location="body",
    )
    shocks = [*STANDARD_SHOCKS, gfc_2008(spx), covid_2020_03(), rates_2022()]
    results = await compute_or_422(
        lambda: shock_scenario(portfolio, shocks), "positions", location="body"
    )
    for name, result in results.items():
        values = [result.total, *result.by_position.values()]
        if result.total_return is not None:
            values.append(result.total_return)
        if not all(math.isfinite(v) for v in values):
            raise field_error(
                "positions",
                f"scenario {name!r} P&L is not a finite number: the positions' values or "
                "sensitivities overflow floating point",
                location="body",
            )
    return [
        ScenarioPublic(
            scenario=name,
            description=result.shock.description,
            total=result.total,
            total_return=result.total_return,
            by_position={str(k): float(v) for k, v in result.by_position.items()},
        )
        for name, result in results.items()
    ]
