"""``POST /v1/options/{price,implied-vol,surface}``: option analytics over arrays of inputs.

Every numeric field takes a number or a list (lists must broadcast). Units: ``t`` in years
(Act/365), rates/carry/vols annualized fractions; carry b = r - q for equities.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from sextant_quant.api.deps import run_or_422
from sextant_quant.options import (
    baw_price,
    binomial_price,
    black76_greeks,
    bsm_greeks,
    fit_svi_surface,
    garman_kohlhagen_greeks,
    implied_vol,
)

router = APIRouter(tags=["options"])

# strict: a JSON boolean is not a number (pydantic would read false as 0.0)
Number = Annotated[float, Field(strict=True)]
Positive = Annotated[float, Field(strict=True, gt=0)]
OptionType = Literal["call", "put", "c", "p", "Call", "Put", "CALL", "PUT", "C", "P"]
Numbers = Number | Annotated[list[Number], Field(min_length=1)]
PositiveNumbers = Positive | Annotated[list[Positive], Field(min_length=1)]
OptionTypes = OptionType | Annotated[list[OptionType], Field(min_length=1)]


class OptionsCreate(BaseModel):
    """European (greeks) or American (price) options under one model."""

    model_config = ConfigDict(extra="forbid")

    model: Literal["bsm", "black76", "garman_kohlhagen", "american_baw", "american_binomial"] = (
        "bsm"
    )
    option_type: OptionTypes = Field(description="call/put (or c/p)")
    spot: PositiveNumbers = Field(description="Spot; the forward for black76")
    strike: PositiveNumbers
    t: PositiveNumbers = Field(description="Years to expiry")
    rate: Numbers = 0.0
    carry: Numbers = Field(0.0, description="b = r - q (bsm, american_*)")
    foreign_rate: Numbers = Field(0.0, description="garman_kohlhagen only")
    vol: PositiveNumbers = Field(description="Annualized, a fraction (0.2 = 20%)")


def _arrays(result: Any) -> dict[str, Any]:
    return {
        name: np.atleast_1d(value).tolist() for name, value in dataclasses.asdict(result).items()
    }


@router.post("/v1/options/price")
def price_options(body: OptionsCreate) -> dict[str, Any]:
    """Prices and Greeks (delta, gamma, theta per year and per day, vega and rho per 1.00,
    vanna, volga, charm); American models return prices only."""
    b = body

    def compute() -> dict[str, Any]:
        if b.model == "bsm":
            return _arrays(bsm_greeks(b.option_type, b.spot, b.strike, b.t, b.rate, b.carry, b.vol))
        if b.model == "black76":
            return _arrays(black76_greeks(b.option_type, b.spot, b.strike, b.t, b.rate, b.vol))
        if b.model == "garman_kohlhagen":
            greeks = garman_kohlhagen_greeks(
                b.option_type, b.spot, b.strike, b.t, b.rate, b.foreign_rate, b.vol
            )
            return _arrays(greeks)
        pricer = baw_price if b.model == "american_baw" else binomial_price
        price = pricer(b.option_type, b.spot, b.strike, b.t, b.rate, b.carry, b.vol)
        return {"price": np.atleast_1d(price).tolist()}

    return {"model": b.model, **run_or_422(compute, "body", location="body")}


class ImpliedVolCreate(BaseModel):
    """Quotes to invert under generalized Black-Scholes-Merton."""

    model_config = ConfigDict(extra="forbid")

    price: PositiveNumbers
    option_type: OptionTypes
    spot: PositiveNumbers
    strike: PositiveNumbers
    t: PositiveNumbers
    rate: Numbers = 0.0
    carry: Numbers = 0.0


@router.post("/v1/options/implied-vol")
def implied_volatility(body: ImpliedVolCreate) -> dict[str, Any]:
    """Implied vols; a quote with no solution has ``ok: false`` and its reason (never a 0)."""
    result = run_or_422(
        lambda: implied_vol(
            body.price, body.option_type, body.spot, body.strike, body.t, body.rate, body.carry
        ),
        "body",
        location="body",
    )
    vols, solved = np.atleast_1d(result.vol), np.atleast_1d(result.ok)
    return {
        "vol": [float(v) if ok else None for v, ok in zip(vols, solved, strict=True)],
        "ok": solved.tolist(),
        "reason": [str(r) for r in np.atleast_1d(result.reason)],
    }


class SurfaceCreate(BaseModel):
    """Implied-vol quotes: one entry per quote (expiry in years, log-moneyness ln(K/F), vol)."""

    model_config = ConfigDict(extra="forbid")

    t: list[Positive] = Field(min_length=5, description="Years to expiry")
    log_moneyness: list[Number] = Field(min_length=5)
    vol: list[Positive] = Field(min_length=5)


@router.post("/v1/options/surface")
def fit_surface(body: SurfaceCreate) -> dict[str, Any]:
    """Raw SVI per expiry, smile/skew/term-structure metrics and arbitrage flags."""
    surface = run_or_422(
        lambda: fit_svi_surface(body.t, body.log_moneyness, body.vol), "body", location="body"
    )
    expiries, atm = surface.term_structure()
    report = surface.arbitrage()
    return {
        "slices": [dataclasses.asdict(m) for m in surface.metrics()],
        "term_structure": {"t": expiries.tolist(), "atm_vol": atm.tolist()},
        "arbitrage": {
            "butterfly": [str(v) for v in report.butterfly],
            "calendar": [str(v) for v in report.calendar],
            "free": not report.butterfly and not report.calendar,
        },
    }
