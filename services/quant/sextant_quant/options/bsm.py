"""Generalized Black-Scholes-Merton prices and Greeks with cost of carry ``b`` (Haug 2007, ch. 1-2).

One formula covers the usual European models through the carry ``b``:

* equity/index with continuous dividend yield ``q``: ``b = r - q`` (``b = r`` without dividends);
* options on futures (Black-76): ``b = 0`` with the futures price as ``spot`` (:mod:`.models`);
* FX (Garman-Kohlhagen): ``b = r_d - r_f`` with the spot rate as ``spot`` (:mod:`.models`).

Units used throughout: ``t`` is in years (Actual/365 calendar days / 365 to match a day count),
``rate``, ``carry`` and ``vol`` are annualized continuously compounded fractions (0.05 = 5%).
Greeks are exact analytic derivatives in those units:

* ``delta`` = dV/dS, ``gamma`` = d2V/dS2;
* ``theta`` = dV/dt = -dV/dT per year (calendar time passing), ``theta_per_day`` = theta / 365;
* ``vega`` = dV/dvol per 1.00 of vol (divide by 100 for one vol point);
* ``rho`` = dV/dr per 1.00 of rate holding the yield ``q = r - b`` fixed (QuantLib's ``rho``);
* ``rho_yield`` = dV/dq per 1.00 of the yield ``q`` holding ``r`` fixed (QuantLib's
  ``dividendRho``; the FX foreign-rate rho); dV/db = -rho_yield;
* ``vanna`` = d2V/dS dvol, ``volga`` (vomma) = d2V/dvol2 per 1.00 of vol;
* ``charm`` = d(delta)/dt = -d(delta)/dT per year.

Every argument broadcasts against the others (numpy rules); non-positive or non-finite spot,
strike, time or vol, non-finite rates and shapes that do not broadcast raise ``OptionInputError``
(a ``ValueError``) naming the field and the first bad index. Prices never come back as a silent NaN.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

from ._inputs import (
    BoolArray,
    FloatArray,
    broadcast_flat,
    check_finite,
    check_positive,
    parse_option_type,
)

INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)
DAYS_PER_YEAR = 365.0
# Elements per block. Evaluating block by block keeps every temporary (64 KB) in cache and lets
# malloc recycle it, instead of streaming ~30 full-size temporaries through memory: 2-3x faster
# than whole-array numpy at a million options.
BLOCK = 8192


@dataclass(frozen=True)
class Greeks:
    """Price and Greeks of European options, each an array of the broadcast input shape.

    Units (see the module docstring): ``price`` in the currency of ``spot``/``strike``; ``theta``
    per year and ``theta_per_day`` per calendar day (theta / 365); ``vega`` and ``volga`` per 1.00
    of vol; ``rho`` and ``rho_yield`` per 1.00 of rate; ``charm`` per year.
    """

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    theta: FloatArray
    theta_per_day: FloatArray
    vega: FloatArray
    rho: FloatArray
    rho_yield: FloatArray
    vanna: FloatArray
    volga: FloatArray
    charm: FloatArray


@dataclass(frozen=True)
class BsmInputs:
    """Validated inputs, broadcast and flattened to 1-D views of ``size`` elements."""

    is_call: BoolArray
    spot: FloatArray
    strike: FloatArray
    t: FloatArray
    rate: FloatArray
    carry: FloatArray
    vol: FloatArray
    shape: tuple[int, ...]

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def blocks(self) -> Iterator[slice]:
        for start in range(0, self.size, BLOCK):
            yield slice(start, start + BLOCK)

    def take(self, index: slice | NDArray[np.intp]) -> BsmInputs:
        """The inputs at ``index`` (a block slice or an index array), keeping ``shape``."""
        return BsmInputs(
            self.is_call[index],
            self.spot[index],
            self.strike[index],
            self.t[index],
            self.rate[index],
            self.carry[index],
            self.vol[index],
            self.shape,
        )

    def terms(self) -> EuropeanTerms:
        """``european_terms`` of these inputs."""
        return european_terms(
            self.is_call, self.spot, self.strike, self.t, self.rate, self.carry, self.vol
        )


def validate_inputs(
    option_type: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    carry: ArrayLike,
    vol: ArrayLike,
) -> BsmInputs:
    """Check and broadcast the GBSM inputs (shared by the European and American pricers)."""
    checked = {
        "option_type": parse_option_type(option_type),
        "spot": check_positive(spot, "spot"),
        "strike": check_positive(strike, "strike"),
        "t": check_positive(t, "t"),
        "rate": check_finite(rate, "rate"),
        "carry": check_finite(carry, "carry"),
        "vol": check_positive(vol, "vol"),
    }
    shape, flat = broadcast_flat(checked)
    return BsmInputs(
        is_call=flat["option_type"],
        spot=flat["spot"],
        strike=flat["strike"],
        t=flat["t"],
        rate=flat["rate"],
        carry=flat["carry"],
        vol=flat["vol"],
        shape=shape,
    )


def call_minus_put(
    spot: FloatArray, strike: FloatArray, t: FloatArray, rate: FloatArray, carry: FloatArray
) -> FloatArray:
    """Put-call parity ``C - P = S e^{(b-r)T} - K e^{-rT}`` (no input checks; currency units).

    Written as ``(S - K) + S expm1((b-r)T) - K expm1(-rT)`` so its rounding error scales with
    ``|S - K| + S|(b-r)T| + K|rT|`` rather than with ``S``: short-dated in-the-money options keep
    the digits of their small time value.
    """
    out: FloatArray = (spot - strike) + spot * np.expm1((carry - rate) * t)
    out -= strike * np.expm1(-rate * t)
    return out


@dataclass(frozen=True)
class EuropeanTerms:
    """The pieces every output of one block shares (see ``european_terms``)."""

    phi: FloatArray  # +1 call, -1 put
    d1: FloatArray
    d2: FloatArray
    sqrt_t: FloatArray
    vst: FloatArray  # vol sqrt(T)
    carry_df: FloatArray  # e^{(b-r)T}
    n_d1: FloatArray  # N(phi d1)
    n_d2: FloatArray  # N(phi d2)
    asset: FloatArray  # S e^{(b-r)T} N(phi d1)
    cash: FloatArray  # K e^{-rT} N(phi d2)
    price: FloatArray


def european_terms(
    is_call: BoolArray,
    spot: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    rate: FloatArray,
    carry: FloatArray,
    vol: FloatArray,
) -> EuropeanTerms:
    """Price and the shared d1/d2/N(d) terms for already validated 1-D inputs of one block."""
    phi = np.multiply(is_call, 2.0, dtype=np.float64)
    phi -= 1.0
    sqrt_t = np.sqrt(t)
    vst = vol * sqrt_t
    log_fk = np.log(spot / strike)
    log_fk += carry * t  # ln(F/K)
    d1 = 0.5 * vst * vst
    d1 += log_fk
    d1 /= vst
    d2 = d1 - vst
    # The normal CDF is evaluated on the out-of-the-money side (psi = +1 where F < K, i.e. where
    # the call is out of the money) and in-the-money prices come from put-call parity: the small
    # out-of-the-money value keeps full relative precision and the in-the-money one takes its
    # intrinsic part from `call_minus_put` rather than from a difference of two large terms.
    psi = (log_fk < 0.0) * 2.0
    psi -= 1.0
    n1 = ndtr(psi * d1)
    n2 = ndtr(psi * d2)
    carry_df = np.exp((carry - rate) * t)
    fwd_df = spot * carry_df
    strike_df = strike * np.exp(-rate * t)
    price = fwd_df * n1
    price -= strike_df * n2
    price *= psi
    # flip = 1 where the requested option is the in-the-money one (phi != psi), else 0; written
    # as arithmetic because np.where is several times slower than a multiply.
    same_sign = phi * psi
    flip = 0.5 - 0.5 * same_sign
    price += flip * phi * call_minus_put(spot, strike, t, rate, carry)
    n_d1 = same_sign * n1
    n_d1 += flip  # N(phi d1) = 1 - N(psi d1) when flipped
    n_d2 = same_sign * n2
    n_d2 += flip
    return EuropeanTerms(
        phi=phi,
        d1=d1,
        d2=d2,
        sqrt_t=sqrt_t,
        vst=vst,
        carry_df=carry_df,
        n_d1=n_d1,
        n_d2=n_d2,
        asset=fwd_df * n_d1,
        cash=strike_df * n_d2,
        price=price,
    )


def bsm_price(
    option_type: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    carry: ArrayLike,
    vol: ArrayLike,
) -> FloatArray:
    """Generalized Black-Scholes-Merton price of European calls/puts (Haug's ``GBlackScholes``).

    ``option_type`` is 'call'/'put' (or an array of them, bools with True = call, or 1/-1),
    ``spot`` and ``strike`` in currency units, ``t`` in years, ``rate`` (r), ``carry`` (b) and
    ``vol`` annualized fractions. Returns the price in currency units, shape = broadcast of inputs.
    """
    x = validate_inputs(option_type, spot, strike, t, rate, carry, vol)
    price = np.empty(x.size)
    for b in x.blocks():
        price[b] = x.take(b).terms().price
    return price.reshape(x.shape)


def bsm_greeks(
    option_type: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    carry: ArrayLike,
    vol: ArrayLike,
) -> Greeks:
    """Price and all Greeks of European options in one pass (shared d1, d2, N(d) and n(d1) terms).

    Arguments as for :func:`bsm_price`; see :class:`Greeks` and the module docstring for the
    definition and unit of each Greek.
    """
    x = validate_inputs(option_type, spot, strike, t, rate, carry, vol)
    out = Greeks(*(np.empty(x.size) for _ in fields(Greeks)))
    for b in x.blocks():
        _greeks_block(x.take(b), out, b)
    return Greeks(*(getattr(out, f.name).reshape(x.shape) for f in fields(Greeks)))


def _greeks_block(x: BsmInputs, out: Greeks, b: slice) -> None:
    """Fill ``out[b]`` for one block of inputs ``x``."""
    k = x.terms()
    spot, t, rate, carry, vol = x.spot, x.t, x.rate, x.carry, x.vol
    phi, d1, d2 = k.phi, k.d1, k.d2
    carry_minus_rate = carry - rate
    pdf = d1 * d1
    pdf *= -0.5
    np.exp(pdf, out=pdf)
    pdf *= INV_SQRT_2PI  # n(d1)
    carry_pdf = k.carry_df * pdf  # e^{(b-r)T} n(d1)

    out.price[b] = k.price
    np.multiply(phi * k.carry_df, k.n_d1, out=out.delta[b])
    np.divide(carry_pdf, spot * k.vst, out=out.gamma[b])
    vega = out.vega[b]
    np.multiply(carry_pdf * spot, k.sqrt_t, out=vega)
    theta = out.theta[b]
    np.multiply(vega, -0.5 * vol / t, out=theta)  # -S e^{(b-r)T} n(d1) vol / (2 sqrt T)
    theta -= phi * (carry_minus_rate * k.asset + rate * k.cash)
    np.divide(theta, DAYS_PER_YEAR, out=out.theta_per_day[b])
    np.multiply(phi * t, k.cash, out=out.rho[b])
    np.multiply(-phi * t, k.asset, out=out.rho_yield[b])
    np.multiply(carry_pdf, d2 / -vol, out=out.vanna[b])
    np.multiply(vega * d1, d2 / vol, out=out.volga[b])
    charm = pdf * (carry / k.vst - d2 / (2.0 * t))
    charm += phi * carry_minus_rate * k.n_d1
    np.multiply(charm, -k.carry_df, out=out.charm[b])
