"""Stress testing: factor shocks on a portfolio of positions, and correlation regime shifts.

Positions carry first-order factor sensitivities (plus equity gamma and bond convexity) and a
``Shock`` moves the factors; P&L is the sensitivity approximation, in the portfolio's base
currency. Factor conventions: equity moves are index returns as fractions (-0.20 = -20%), rate
moves are parallel yield shifts in basis points, vol moves are implied-vol multipliers and/or
vol points (1 point = 1% absolute implied vol), FX moves are returns of a currency's value in
the base currency (-0.10 = that currency loses 10% against the base).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike

from ._validate import (
    FloatArray,
    RiskInputError,
    check_confidence,
    check_cov,
    check_finite,
    check_unit_interval,
    check_vector,
    clip_to_psd,
)
from .covariance import corr_to_cov, cov_to_corr
from .var import VaRResult, normal_var

_CORR_ATOL = 1e-8


class AssetClass(StrEnum):
    """Broad asset class of a position (informational; P&L comes from its sensitivities)."""

    EQUITY = "equity"
    FIXED_INCOME = "fixed_income"
    OPTION = "option"
    FX = "fx"
    COMMODITY = "commodity"
    CASH = "cash"


@dataclass(frozen=True)
class Position:
    """One position and its factor sensitivities; money amounts in the portfolio base currency.

    * ``market_value``: signed value (short < 0).
    * ``beta``: sensitivity of the position's equity exposure to the equity index.
    * ``delta``: dollar delta, the base-currency equity exposure (option delta x underlying
      notional); ``None`` means the market value for ``EQUITY`` positions and 0 otherwise.
    * ``gamma``: second-order equity term, P&L += 0.5 * gamma * r**2 for an underlying return r
      (fraction), i.e. Gamma x S**2 in base currency.
    * ``duration`` (modified, years) or ``dv01`` (base currency lost per +1bp; overrides
      duration), with optional ``convexity`` (years**2).
    * ``vega``: base-currency P&L per +1 implied vol point; ``implied_vol``: current implied vol
      as a fraction (0.20), needed to apply a vol multiplier.
    * ``fx_exposure``: base-currency exposure to ``currency``; ``None`` means the market value.
    """

    id: str
    market_value: float
    asset_class: AssetClass
    currency: str = "USD"
    beta: float = 1.0
    delta: float | None = None
    gamma: float = 0.0
    duration: float = 0.0
    dv01: float | None = None
    convexity: float = 0.0
    vega: float = 0.0
    implied_vol: float = 0.0
    fx_exposure: float | None = None

    def __post_init__(self) -> None:
        if not self.id:
            raise RiskInputError("Position.id must be a non-empty string")
        if not self.currency:
            raise RiskInputError(f"Position {self.id}: currency must be a non-empty code")
        for name in ("market_value", "beta", "gamma", "duration", "convexity", "vega"):
            check_finite(getattr(self, name), f"Position {self.id}: {name}")
        for name in ("delta", "dv01", "fx_exposure"):
            if getattr(self, name) is not None:
                check_finite(getattr(self, name), f"Position {self.id}: {name}")
        if check_finite(self.implied_vol, f"Position {self.id}: implied_vol") < 0:
            raise RiskInputError(
                f"Position {self.id}: implied_vol must be >= 0 (a fraction, 0.20 = 20%), "
                f"got {self.implied_vol}"
            )
        try:
            object.__setattr__(self, "asset_class", AssetClass(self.asset_class))
        except ValueError:
            allowed = ", ".join(a.value for a in AssetClass)
            raise RiskInputError(
                f"Position {self.id}: asset_class must be one of {allowed}, "
                f"got {self.asset_class!r}"
            ) from None

    @property
    def equity_exposure(self) -> float:
        """Base-currency exposure to the position's underlying equity (before beta)."""
        if self.delta is not None:
            return self.delta
        return self.market_value if self.asset_class is AssetClass.EQUITY else 0.0


@dataclass(frozen=True)
class Portfolio:
    """Positions valued in ``base_currency``; position ids must be unique."""

    positions: tuple[Position, ...]
    base_currency: str = "USD"

    def __post_init__(self) -> None:
        object.__setattr__(self, "positions", tuple(self.positions))
        if not self.positions:
            raise RiskInputError("Portfolio.positions is empty")
        ids = [p.id for p in self.positions]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise RiskInputError(f"Portfolio.positions has duplicate ids: {', '.join(dupes)}")

    @property
    def market_value(self) -> float:
        """Sum of the positions' market values, base currency."""
        return float(sum(p.market_value for p in self.positions))


@dataclass(frozen=True)
class Shock:
    """A named joint move of the risk factors (see the module docstring for units).

    ``fx`` maps a currency code to its move against the base currency; ``fx_other`` applies to
    every other non-base currency (a base currency rising 10% is ``fx_other = 1/1.1 - 1``).
    """

    name: str
    equity: float = 0.0
    rates_bp: float = 0.0
    vol_multiplier: float = 1.0
    vol_points: float = 0.0
    fx: Mapping[str, float] = field(default_factory=dict)
    fx_other: float = 0.0
    description: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            raise RiskInputError("Shock.name must be a non-empty string")
        for attr in ("equity", "rates_bp", "vol_points", "fx_other"):
            check_finite(getattr(self, attr), f"Shock {self.name}: {attr}")
        if check_finite(self.vol_multiplier, f"Shock {self.name}: vol_multiplier") < 0:
            raise RiskInputError(f"Shock {self.name}: vol_multiplier must be >= 0")
        for currency, move in self.fx.items():
            check_finite(move, f"Shock {self.name}: fx[{currency!r}]")
        if self.equity <= -1 or self.fx_other <= -1 or any(m <= -1 for m in self.fx.values()):
            raise RiskInputError(f"Shock {self.name}: price moves must be > -1 (-100%)")

    def fx_move(self, currency: str) -> float:
        """Move of ``currency`` against the base currency under this shock."""
        return self.fx.get(currency, self.fx_other)


STANDARD_SHOCKS: tuple[Shock, ...] = (
    Shock("equity -20%", equity=-0.20, description="equity index -20%, by beta/delta/gamma"),
    Shock("rates +100bp", rates_bp=100.0, description="parallel +100bp, by duration/DV01"),
    Shock("vol x2", vol_multiplier=2.0, description="implied vols doubled, by vega"),
    Shock(
        "base currency +10%",
        fx_other=1 / 1.1 - 1,
        description="every non-base currency loses 1/1.1 - 1 = -9.09% against the base",
    ),
)


@dataclass(frozen=True)
class PositionPnL:
    """P&L of one position under one shock, split by factor (base currency)."""

    position_id: str
    equity: float
    rates: float
    vol: float
    fx: float

    @property
    def total(self) -> float:
        """Sum over factors."""
        return self.equity + self.rates + self.vol + self.fx


@dataclass(frozen=True)
class ScenarioResult:
    """P&L of a portfolio under one shock: per position, per factor and in total.

    ``total_return`` is ``total / portfolio market value``, or None when that value is 0.
    """

    shock: Shock
    positions: tuple[PositionPnL, ...]
    total: float
    total_return: float | None

    @property
    def by_position(self) -> dict[str, float]:
        """Position id -> total P&L."""
        return {p.position_id: p.total for p in self.positions}

    @property
    def by_factor(self) -> dict[str, float]:
        """Factor (equity, rates, vol, fx) -> P&L summed over positions."""
        return {
            name: float(sum(getattr(p, name) for p in self.positions))
            for name in ("equity", "rates", "vol", "fx")
        }


def shock_scenario(
    portfolio: Portfolio, shocks: Shock | Iterable[Shock] | Mapping[str, Shock]
) -> dict[str, ScenarioResult]:
    """Apply each shock to the portfolio; returns shock name -> ``ScenarioResult``.

    Per position, with ``r = beta * shock.equity`` and ``dy = rates_bp / 10_000``:
    equity P&L ``= exposure * r + 0.5 * gamma * r**2``; rates P&L ``= -dv01 * rates_bp`` (or
    ``-market_value * duration * dy``) ``+ 0.5 * market_value * convexity * dy**2``; vol P&L
    ``= vega * (100 * implied_vol * (vol_multiplier - 1) + vol_points)``; FX P&L
    ``= (fx_exposure + local P&L) * fx_move`` for non-base currencies, so the other factors'
    P&L is converted at the shocked rate too. A vol multiplier on a position with vega but no
    ``implied_vol`` is an error rather than a silent zero.
    """
    if isinstance(shocks, Shock):
        shock_list = [shocks]
    elif isinstance(shocks, Mapping):
        shock_list = list(shocks.values())
    else:
        shock_list = list(shocks)
    if not shock_list:
        raise RiskInputError("shocks is empty; pass at least one Shock (e.g. STANDARD_SHOCKS)")
    names = [s.name for s in shock_list]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise RiskInputError(f"shocks has duplicate names: {', '.join(dupes)}")
    for shock in shock_list:
        if portfolio.base_currency in shock.fx:
            raise RiskInputError(
                f"Shock {shock.name}: an fx move for the base currency {portfolio.base_currency} "
                "is meaningless; express it as moves of the other currencies (or fx_other)"
            )
    value = portfolio.market_value
    results = {}
    for shock in shock_list:
        rows = tuple(_position_pnl(p, shock, portfolio.base_currency) for p in portfolio.positions)
        total = float(sum(r.total for r in rows))
        results[shock.name] = ScenarioResult(
            shock=shock,
            positions=rows,
            total=total,
            total_return=total / value if value != 0 else None,
        )
    return results


def _position_pnl(position: Position, shock: Shock, base_currency: str) -> PositionPnL:
    r = position.beta * shock.equity
    equity = position.equity_exposure * r + 0.5 * position.gamma * r * r
    dy = shock.rates_bp / 10_000.0
    if position.dv01 is not None:
        rates = -position.dv01 * shock.rates_bp
    else:
        rates = -position.market_value * position.duration * dy
    rates += 0.5 * position.market_value * position.convexity * dy * dy
    vol = 0.0
    if position.vega != 0.0:
        if shock.vol_multiplier != 1.0 and position.implied_vol == 0.0:
            raise RiskInputError(
                f"Position {position.id} has vega but implied_vol=0, so shock {shock.name!r} "
                f"(vol x{shock.vol_multiplier:g}) cannot be applied; set implied_vol"
            )
        points = 100.0 * position.implied_vol * (shock.vol_multiplier - 1.0) + shock.vol_points
        vol = position.vega * points
    fx = 0.0
    if position.currency != base_currency:
        exposure = position.market_value if position.fx_exposure is None else position.fx_exposure
        fx = (exposure + equity + rates + vol) * shock.fx_move(position.currency)
    return PositionPnL(position.id, equity, rates, vol, fx)


@dataclass(frozen=True)
class RegimeShiftResult:
    """Normal VaR before and after blending the correlation matrix toward a risk-off matrix.

    ``cov``/``corr`` are the shifted matrices (volatilities unchanged); ``min_eigenvalue`` is
    that of the blended correlation before any repair and ``psd_repaired`` says whether
    eigenvalue clipping was needed. ``var_change_relative`` is ``var_change / before.var`` (a
    fraction), None when that VaR is 0.
    """

    cov: FloatArray
    corr: FloatArray
    before: VaRResult
    after: VaRResult
    var_change: float
    var_change_relative: float | None
    min_eigenvalue: float
    psd_repaired: bool


def correlation_regime_shift(
    weights: ArrayLike,
    cov: ArrayLike,
    risk_off_corr: float | ArrayLike = 0.8,
    blend: float = 1.0,
    *,
    mean: ArrayLike | None = None,
    confidence: float = 0.99,
    horizon: float = 1.0,
    fix_psd: bool = False,
) -> RegimeShiftResult:
    """Normal VaR/CVaR of ``weights`` after the correlations move toward a risk-off regime.

    The correlation of ``cov`` becomes ``(1 - blend) * C + blend * C_risk_off``, where
    ``risk_off_corr`` is either one number (every off-diagonal correlation) or a full matrix;
    volatilities are kept. If the blend is not positive semi-definite (possible with a
    user-given or negative risk-off matrix) it is repaired by eigenvalue clipping with the unit
    diagonal restored. VaR is ``normal_var`` (per-period ``cov``/``mean``, sqrt-time horizon).
    ``fix_psd`` applies to the input ``cov``.
    """
    w = check_vector(weights, "weights")
    base = check_cov(cov, w.size, fix_psd=fix_psd)
    check_confidence(confidence)
    mix = check_unit_interval(blend, "blend")
    vols, corr = cov_to_corr(base)
    target = _risk_off_matrix(risk_off_corr, w.size)
    blended = (1.0 - mix) * corr + mix * target
    min_eig = float(np.linalg.eigvalsh(blended)[0])
    repaired = min_eig < -1e-12
    if repaired:
        blended = clip_to_psd(blended, keep_diagonal=True)
    shifted = corr_to_cov(vols, blended)
    before = normal_var(w, base, mean, confidence=confidence, horizon=horizon)
    after = normal_var(w, shifted, mean, confidence=confidence, horizon=horizon)
    change = after.var - before.var
    return RegimeShiftResult(
        cov=shifted,
        corr=blended,
        before=before,
        after=after,
        var_change=change,
        var_change_relative=change / before.var if before.var != 0 else None,
        min_eigenvalue=min_eig,
        psd_repaired=repaired,
    )


def _risk_off_matrix(risk_off_corr: float | ArrayLike, n: int) -> FloatArray:
    if np.ndim(risk_off_corr) == 0:
        rho = check_finite(float(risk_off_corr), "risk_off_corr")  # type: ignore[arg-type]
        if not -1.0 <= rho <= 1.0:
            raise RiskInputError(f"risk_off_corr must be in [-1, 1], got {rho}")
        matrix = np.full((n, n), rho)
        np.fill_diagonal(matrix, 1.0)
        return matrix
    matrix = np.asarray(risk_off_corr, dtype=np.float64)
    if matrix.shape != (n, n):
        raise RiskInputError(
            f"risk_off_corr must be a number or a {n}x{n} matrix, got {matrix.shape}"
        )
    if not np.all(np.isfinite(matrix)):
        raise RiskInputError("risk_off_corr contains NaN/inf values")
    if not np.allclose(matrix, matrix.T, atol=_CORR_ATOL):
        raise RiskInputError("risk_off_corr is not symmetric")
    if not np.allclose(np.diag(matrix), 1.0, atol=_CORR_ATOL):
        raise RiskInputError("risk_off_corr must have a unit diagonal (it is a correlation matrix)")
    if np.any(np.abs(matrix) > 1.0 + _CORR_ATOL):
        raise RiskInputError("risk_off_corr entries must lie in [-1, 1]")
    return matrix
