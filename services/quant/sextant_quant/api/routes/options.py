"""``POST /v1/options/{price,implied-vol,surface}``: option analytics over arrays of inputs;
``GET /v1/options/chain`` and ``GET /v1/options/surface``: a stored chain snapshot (from the
datasets service) with implied vols and Greeks, and the SVI surface fitted to it.

Every numeric field takes a number or a list (lists must broadcast). Units: ``t`` in years
(Act/365), rates/carry/vols annualized fractions; carry b = r - q for equities.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import date, datetime
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from sextant_common.events import INSTRUMENT_ID_PATTERN
from sextant_common.timeparse import BoundText
from sextant_common.versioned_cache import VersionedCache
from sextant_quant.api.deps import MARKET_DATA_ERRORS, MarketDataDep, run_or_422
from sextant_quant.market_data import MarketData, MarketDataError
from sextant_quant.options import (
    baw_price,
    binomial_price,
    black76_greeks,
    bsm_greeks,
    fit_svi_surface,
    garman_kohlhagen_greeks,
    implied_vol,
)
from sextant_quant.options.chain import (
    GREEK_NAMES,
    chain_greeks,
    fit_chain_surface,
    price_chain,
    surface_grid,
)

router = APIRouter(tags=["options"])

SIMULATED_RATE = 0.04
"""The simulated market's risk-free rate (ingest prices its chains with it): the default."""

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


class StoredChainQuery(BaseModel):
    """A stored chain snapshot and the curve to value it with."""

    model_config = ConfigDict(extra="forbid")

    underlying: str = Field(pattern=INSTRUMENT_ID_PATTERN, description="e.g. AAPL")
    as_of: BoundText | None = Field(None, description="Latest snapshot by then; default now")
    source: str | None = Field(None, min_length=1, max_length=32, description="e.g. polygon")
    rate: float = Field(
        SIMULATED_RATE,
        ge=-0.1,
        le=1.0,
        allow_inf_nan=False,
        description="Risk-free rate, annualized continuously compounded (default: the "
        "simulated market's 4%)",
    )
    dividend_yield: float = Field(0.0, ge=-0.1, le=1.0, allow_inf_nan=False)


class ChainQuery(StoredChainQuery):
    """``GET /v1/options/chain`` parameters."""

    expiry: date | None = Field(None, description="One expiry (YYYY-MM-DD); default every one")


class SurfaceQuery(StoredChainQuery):
    """``GET /v1/options/surface`` parameters."""

    grid_strikes: int = Field(25, ge=2, le=201, description="Strikes of the chart grid")


async def _stored_chain(
    market: MarketData, query: StoredChainQuery, expiry: date | None = None
) -> dict[str, Any]:
    """The datasets service's snapshot; its 404 (no chain) and 422 (expiry not listed, bad
    as_of) pass through unchanged."""
    params = {
        name: str(value)
        for name, value in (
            ("underlying", query.underlying),
            ("as_of", query.as_of),
            ("source", query.source),
            ("expiry", expiry),
        )
        if value is not None
    }
    try:
        return await market.option_chain(params)
    except MarketDataError as exc:
        raise HTTPException(status_code=exc.status, detail=exc.detail) from None


def _snapshot_fields(chain: dict[str, Any], query: StoredChainQuery) -> dict[str, Any]:
    return {
        "underlying": chain["underlying"],
        "snapshot": chain["snapshot"],
        "source": chain["source"],
        "simulated": chain["source"] == "simulated",
        "expiries": chain["expiries"],
        "rate": query.rate,
        "dividend_yield": query.dividend_yield,
        "warnings": chain["warnings"],
    }


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


@router.get("/v1/options/chain", responses=MARKET_DATA_ERRORS)
async def get_chain(market: MarketDataDep, query: Annotated[ChainQuery, Query()]) -> dict[str, Any]:
    """The latest stored chain of ``underlying`` at or before ``as_of`` (of ``expiry``, or of
    every expiry; ``expiries`` lists them), each contract with bid/ask/mid, our implied vol of
    the mid (``iv``, or null with ``iv_reason``), the source's (``provider_iv``) and Greeks.

    Valued as European options under GBSM at ``rate`` and ``dividend_yield``; ``t`` in years to
    21:00 UTC on the expiry date; prices per unit of the underlying (times ``multiplier`` per
    contract). Greeks at our vol, else the provider's (``greeks_vol`` says which): ``delta``
    per 1.00 of spot, ``gamma`` per 1.00 of spot squared, ``vega`` per 1.00 of vol, ``theta``
    per year and ``theta_per_day`` per calendar day, ``rho`` per 1.00 of rate. 404 when no
    chain of the underlying is stored, 422 naming ``expiry`` (with the listed ones) when it is
    not in the snapshot."""
    chain = await _stored_chain(market, query, query.expiry)
    snapshot = datetime.fromisoformat(chain["snapshot"].replace("Z", "+00:00"))
    rows = chain["quotes"]
    frame = price_chain(rows, snapshot, query.rate, query.dividend_yield)
    greeks, greeks_vol = chain_greeks(frame)
    contracts = [
        {
            "contract": row["contract"],
            "expiry": row["expiry"],
            "strike": row["strike"],
            "right": row["right"],
            "style": row["style"],
            "multiplier": row["multiplier"],
            "bid": row["bid"],
            "ask": row["ask"],
            "mid": _finite(frame.mid[i]),
            "last": row["last"],
            "volume": row["volume"],
            "open_interest": row["open_interest"],
            "underlying_price": row["underlying_price"],
            "t": frame.t[i],
            "iv": _finite(frame.iv[i]),
            "iv_reason": frame.iv_reason[i] or None,
            "provider_iv": row["implied_vol"],
            "greeks": None
            if greeks_vol[i] is None
            else {name: float(greeks[name][i]) for name in GREEK_NAMES},
            "greeks_vol": greeks_vol[i],
        }
        for i, row in enumerate(rows)
    ]
    return {
        **_snapshot_fields(chain, query),
        "expiry": query.expiry,
        "count": len(contracts),
        "contracts": contracts,
    }


@router.get("/v1/options/surface", responses=MARKET_DATA_ERRORS)
async def get_surface(
    market: MarketDataDep, query: Annotated[SurfaceQuery, Query()]
) -> dict[str, Any]:
    """Raw SVI fitted per expiry to the out-of-the-money implied vols of the latest stored chain
    at or before ``as_of``: per-slice parameters and metrics, fit residuals per quote (model
    minus market vol), arbitrage flags where there are quotes (butterfly: Durrleman's g(k) < 0
    on a slice's quoted range; calendar: total variance falling from one expiry to the next at
    some log-moneyness k = ln(K/F) both quote) and an IV grid (``grid.strikes`` x
    ``grid.expiries``, null where the surface has no positive variance) for the chart. Vols
    annualized fractions, ``t`` in years. A fit is kept per snapshot, so asking again is cheap."""
    chain = await _stored_chain(market, query)
    key = (chain["underlying"], chain["source"], query.rate, query.dividend_yield)
    version = (chain["snapshot"], query.grid_strikes)
    fitted = _SURFACES.get(key, version)
    if fitted is None:
        fitted = await asyncio.to_thread(_fit_surface, chain, query)  # ~0.3 s of CPU
        _SURFACES.put(key, version, fitted)
    return {**_snapshot_fields(chain, query), **fitted}


_SURFACES = VersionedCache[dict[str, Any]](max_entries=64, name="option_surfaces")
"""Fitted surfaces by (underlying, source, rate, dividend yield), valid for one snapshot and grid:
a fit takes ~0.3 s and a chart asks again for the same snapshot."""


def _fit_surface(chain: dict[str, Any], query: SurfaceQuery) -> dict[str, Any]:
    snapshot = datetime.fromisoformat(chain["snapshot"].replace("Z", "+00:00"))
    frame = price_chain(chain["quotes"], snapshot, query.rate, query.dividend_yield)
    surface = run_or_422(lambda: fit_chain_surface(frame), "underlying")
    strikes, vols = surface_grid(surface, frame, query.grid_strikes)
    metrics = surface.fit.metrics()
    report = surface.arbitrage
    return {
        "slices": [
            {
                "expiry": expiry,
                "t": s.t,
                "params": dataclasses.asdict(s.params),
                "n_quotes": s.n_quotes,
                "rmse_vol": s.rmse_vol,
                "max_error_vol": s.max_error_vol,
                "atm_vol": m.atm_vol,
                "min_g": m.min_g,
                "butterfly_arbitrage": m.butterfly_arbitrage,
            }
            for expiry, s, m in zip(surface.expiries, surface.fit.slices, metrics, strict=True)
        ],
        "skipped": [{"expiry": e, "reason": r} for e, r in surface.skipped.items()],
        "residuals": surface.quotes,
        "arbitrage": {
            "butterfly": [dataclasses.asdict(v) for v in report.butterfly],
            "calendar": [dataclasses.asdict(v) for v in report.calendar],
            "free": report.free,
        },
        "grid": {
            "strikes": strikes.tolist(),
            "expiries": surface.expiries,
            "t": surface.fit.expiries.tolist(),
            "iv": [[_finite(v) for v in row] for row in vols.tolist()],
        },
    }
