"""Vectorized Black-Scholes-Merton implied volatility with every unsolvable quote flagged.

Method (after Jäckel, "By Implication", Wilmott 2006, and "Let's Be Rational", 2015): each quote
is reduced to the normalized out-of-the-money call problem

    c(x, s) = e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2) = beta,   x = -|ln(F/K)| <= 0,

where ``F = S e^{bT}``, ``s = vol sqrt(T)`` and ``beta`` is the undiscounted time value divided by
``sqrt(F K)`` (in-the-money quotes lose their intrinsic value through put-call parity; puts map to
calls through ``b(x, s, put) = b(-x, s, call)``). ``c`` is increasing in ``s``, convex below the
inflection point ``s_c = sqrt(2|x|)`` and concave above it, so the quote's region decides the
iteration (details in ``_normalized_vol``): Halley's method on ``ln c - ln beta`` for the tiny
prices of deep out-of-the-money or short-dated options, evaluated in log space with ``log_ndtr``
so a quote worth 1e-300 of the forward neither underflows nor loses digits, and Halley on
``c - beta`` elsewhere, each started from an asymptote or tangent of ``c``. Every iterate stays in
a bracket that each evaluation tightens, with bisection whenever a step would leave it, so the
solver cannot diverge. It converges in 2-3 iterations (at most 6 in tests) to the double
precision of ``s``; the result is as exact as the quote allows (the vol error is about the
quote's rounding error divided by vega).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_ndtr, ndtr, ndtri

from ._inputs import FloatArray, as_float, broadcast_flat, parse_option_type
from .bsm import BLOCK, call_minus_put

LOG_SQRT_2PI = 0.9189385332046727  # ln sqrt(2 pi)
MAX_ITERATIONS = 100
GUESS_PASSES = 1
# Stop once a Halley step moves s by less than this fraction of s: convergence is cubic, so the
# error left after that step is of order (1e-7)^3 times a modest constant, far below one ulp.
STEP_TOLERANCE = 1e-7
UPPER_BOUND_ULPS = 8.0

OK = ""
BAD_INPUT_PRICE = "price is not a finite number"
BAD_INPUT_SPOT = "spot must be finite and > 0"
BAD_INPUT_STRIKE = "strike must be finite and > 0"
BAD_INPUT_TIME = "time to expiry must be finite and > 0"
BAD_INPUT_RATE = "rate or carry is not finite"
BELOW_INTRINSIC = "price below intrinsic value"
AT_INTRINSIC = "price equals intrinsic value (no time value, vol 0)"
ABOVE_UPPER_BOUND = "price at or above upper bound (S e^((b-r)T) for a call, K e^(-rT) for a put)"
NOT_CONVERGED = "solver did not converge"
# Reasons travel as small integer codes through the solver and become strings once at the end.
REASONS = (
    OK,
    BAD_INPUT_RATE,
    BAD_INPUT_TIME,
    BAD_INPUT_STRIKE,
    BAD_INPUT_SPOT,
    BAD_INPUT_PRICE,
    BELOW_INTRINSIC,
    AT_INTRINSIC,
    ABOVE_UPPER_BOUND,
    NOT_CONVERGED,
)
_CODE = {reason: np.uint8(code) for code, reason in enumerate(REASONS)}
_REASON_TABLE = np.array(REASONS, dtype=object)


@dataclass(frozen=True)
class ImpliedVolResult:
    """Implied vols with a per-quote verdict, all of the broadcast input shape.

    ``vol`` is the annualized implied volatility (fraction, 0.2 = 20%), NaN exactly where ``ok`` is
    False; ``reason`` (an object array of ``str``) holds '' for solved quotes and why a quote has
    no solution otherwise (one of :data:`REASONS`, e.g. ``"price below intrinsic value"``).
    """

    vol: FloatArray
    ok: NDArray[np.bool_]
    reason: NDArray[np.object_]

    def flagged(self) -> dict[str, int]:
        """How many quotes were flagged, by reason."""
        labels, counts = np.unique(self.reason[~self.ok], return_counts=True)
        return {str(label): int(n) for label, n in zip(labels, counts, strict=True)}


def implied_vol(
    price: ArrayLike,
    option_type: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    carry: ArrayLike,
) -> ImpliedVolResult:
    """Implied volatility of European option prices under the generalized BSM model.

    ``price`` is the option premium in currency units, ``option_type`` as in
    :func:`~sextant_quant.options.bsm.bsm_price`, ``spot``/``strike`` in currency units, ``t`` in
    years, ``rate`` (r) and ``carry`` (b = r - q) annualized continuously compounded fractions.
    Quotes with no solution (non-positive time or prices outside the no-arbitrage bounds, or
    non-finite inputs) are flagged in the result rather than raised, so one bad quote does not
    sink a chain; only shapes that do not broadcast and unknown option types raise ``ValueError``.
    """
    fields = {
        "price": as_float(price, "price"),
        "option_type": parse_option_type(option_type),
        "spot": as_float(spot, "spot"),
        "strike": as_float(strike, "strike"),
        "t": as_float(t, "t"),
        "rate": as_float(rate, "rate"),
        "carry": as_float(carry, "carry"),
    }
    shape, flat = broadcast_flat(fields)
    vol, code = _solve(**flat)
    return ImpliedVolResult(
        vol=vol.reshape(shape),
        ok=(code == 0).reshape(shape),
        reason=_REASON_TABLE[code].reshape(shape),
    )


def _solve(
    price: FloatArray,
    option_type: NDArray[np.bool_],
    spot: FloatArray,
    strike: FloatArray,
    t: FloatArray,
    rate: FloatArray,
    carry: FloatArray,
) -> tuple[FloatArray, NDArray[np.uint8]]:
    n = price.size
    code = np.zeros(n, dtype=np.uint8)
    # Checks run from the least to the most specific, so each quote keeps its first failure.
    with np.errstate(invalid="ignore"):
        for bad, why in (
            (~np.isfinite(rate) | ~np.isfinite(carry), BAD_INPUT_RATE),
            (~((t > 0) & (t < np.inf)), BAD_INPUT_TIME),
            (~((strike > 0) & (strike < np.inf)), BAD_INPUT_STRIKE),
            (~((spot > 0) & (spot < np.inf)), BAD_INPUT_SPOT),
            (~np.isfinite(price), BAD_INPUT_PRICE),
        ):
            code[bad] = _CODE[why]
    vol = np.full(n, np.nan)
    idx = np.flatnonzero(code == 0)
    if idx.size == 0:
        return vol, code

    s_, k_, t_, r_, b_ = spot[idx], strike[idx], t[idx], rate[idx], carry[idx]
    theta = np.where(option_type[idx], 1.0, -1.0)
    log_moneyness = np.log(s_ / k_) + b_ * t_  # x = ln(F / K)
    # Time value: subtract the discounted intrinsic value S e^{(b-r)T} - K e^{-rT} of in-the-money
    # options, which turns every quote into the out-of-the-money option on the other side of
    # put-call parity (computed so short-dated in-the-money quotes keep their time value digits).
    intrinsic = call_minus_put(s_, k_, t_, r_, b_)
    itm = theta * log_moneyness > 0
    discounted_tv = np.where(itm, price[idx] - theta * intrinsic, price[idx])
    x = -np.abs(log_moneyness)
    # beta = undiscounted time value / sqrt(F K) with F = S e^{bT}; its bound is e^{x/2}.
    beta = discounted_tv * np.exp(r_ * t_ - 0.5 * b_ * t_) / np.sqrt(s_ * k_)

    verdict = np.zeros(idx.size, dtype=np.uint8)
    verdict[discounted_tv < 0] = _CODE[BELOW_INTRINSIC]
    verdict[discounted_tv == 0] = _CODE[AT_INTRINSIC]
    # Within a few ulps of the bound the vol would be astronomically large (s > 16): flag it too.
    at_bound = beta >= np.exp(0.5 * x) * (1.0 - UPPER_BOUND_ULPS * np.finfo(float).eps)
    verdict[(discounted_tv > 0) & at_bound] = _CODE[ABOVE_UPPER_BOUND]
    live = np.flatnonzero(verdict == 0)
    s = np.full(idx.size, np.nan)
    x_live, beta_live = x[live], beta[live]
    s_live = np.empty(live.size)
    converged = np.empty(live.size, dtype=np.bool_)
    # Block by block: each block's temporaries stay in cache (see bsm.BLOCK).
    for start in range(0, live.size, BLOCK):
        b = slice(start, start + BLOCK)
        s_live[b], converged[b] = _normalized_vol(x_live[b], beta_live[b])
    s_live[~converged] = np.nan
    s[live] = s_live
    verdict[live[~converged]] = _CODE[NOT_CONVERGED]

    code[idx] = verdict
    vol[idx] = s / np.sqrt(t_)
    return vol, code


def _normalized_vol(x: FloatArray, beta: FloatArray) -> tuple[FloatArray, NDArray[np.bool_]]:
    """Solve ``c(x, s) = beta`` for ``s > 0`` (x <= 0, 0 < beta < e^{x/2}); also a converged mask.

    Three regions, split at the inflection point ``s_c = sqrt(2|x|)`` and at ``s_l``, where the
    tangent to ``c`` at ``s_c`` crosses zero (Jaeckel's ``b_l``/``b_c`` breakpoints):

    * ``beta < c(s_l)``: Halley on ``ln c - ln beta`` from the small-s asymptote, root in (0, s_l);
    * ``c(s_l) <= beta <= c(s_c)``: Halley on ``c - beta`` from where the tangent at ``s_c``
      reaches beta. ``c`` is convex there, so that start lies right of the root and the
      iteration closes in from the right without overshooting; root in [s_l, s_c];
    * ``beta > c(s_c)``: Halley on ``c - beta`` from the large-s asymptote, root in (s_c, inf).
    """
    s_crit = np.sqrt(-2.0 * x)
    beta_crit = np.zeros_like(x)
    otm = x < 0
    beta_crit[otm] = _call(x[otm], s_crit[otm])
    vega_crit = np.exp(0.5 * x - LOG_SQRT_2PI)  # c'(s_c): h^2 + (s_c/2)^2 = |x| there
    s_low = s_crit - beta_crit / vega_crit
    has_low = s_low > 0
    beta_low = np.zeros_like(x)
    beta_low[has_low] = _call(x[has_low], s_low[has_low])
    use_log = beta < beta_low
    middle = ~use_log & (beta <= beta_crit)
    upper = beta > beta_crit
    log_beta = np.log(beta)

    s = np.empty_like(x)
    lo = np.zeros_like(x)
    hi = np.full_like(x, np.inf)
    # Region 1: below s_l.
    s[use_log] = _lower_guess(x[use_log], log_beta[use_log])
    hi[use_log] = s_low[use_log]
    # Region 2: between s_l and s_c, started on the tangent (an upper bound of the root).
    s[middle] = s_crit[middle] - (beta_crit[middle] - beta[middle]) / vega_crit[middle]
    lo[middle] = np.maximum(s_low[middle], 0.0)
    hi[middle] = s_crit[middle]
    # Region 3: above s_c. Large-s asymptote e^{x/2} - c ~ (e^{x/2} + e^{-x/2}) N(-s/2), exact at
    # x = 0.
    bound = np.exp(0.5 * x[upper])
    s[upper] = -2.0 * ndtri((bound - beta[upper]) / (bound + 1.0 / bound))
    # c is concave above s_c, so its tangent at s_c lies over it and reaches beta left of the root.
    tangent = s_crit[upper] + (beta[upper] - beta_crit[upper]) / vega_crit[upper]
    lo[upper] = tangent
    s[upper] = np.maximum(s[upper], tangent)
    # A start outside its bracket (rounding at the region edges) begins from the bracket's middle.
    inside = (s >= lo) & (s <= hi) & (s > 0)
    s = np.where(inside, s, np.where(np.isinf(hi), 2.0 * lo + 1.0, 0.5 * (lo + hi)))

    converged = np.zeros(x.size, dtype=np.bool_)
    active = np.arange(x.size)
    for _ in range(MAX_ITERATIONS):
        if active.size == 0:
            break
        xa, sa, la = x[active], s[active], use_log[active]
        f, df, d2f = _objective(xa, sa, la, beta[active], log_beta[active])
        # Tighten the bracket with the sign of the objective (increasing in s on both branches).
        below = ~(f >= 0)  # NaN: c is below rounding noise, so s is still too small
        lo[active] = np.where(below, sa, lo[active])
        hi[active] = np.where(below, hi[active], sa)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            newton = f / df
            step = -newton / (1.0 - 0.5 * newton * d2f / df)
        new = sa + step
        lo_a, hi_a = lo[active], hi[active]
        # A Newton correction this small means s is converged; test it before the bracket,
        # because s itself is now a bracket end and a last ulp-sized step may land on it.
        small_step = np.abs(newton) <= STEP_TOLERANCE * sa
        outside = ~small_step & ~((new > lo_a) & (new < hi_a))
        bisect = np.where(np.isinf(hi_a), 2.0 * sa, 0.5 * (lo_a + hi_a))
        new = np.where(outside, bisect, new)
        done = (f == 0) | small_step | (hi_a - lo_a <= 4e-16 * hi_a)
        s[active] = np.where(f == 0, sa, new)
        converged[active[done]] = True
        active = active[~done]
    return s, converged


def _lower_guess(x: FloatArray, log_beta: FloatArray) -> FloatArray:
    """Start for the lower branch from the small-s asymptote of the normalized call,

    ``ln c ~ -ln sqrt(2 pi) - x^2/(2 s^2) - s^2/8 + ln(s^3 / (x^2 - s^4/4))``,

    solved for s by ``GUESS_PASSES`` fixed-point passes from its leading term
    ``s = |x| / sqrt(-2 ln beta)``.
    """
    s = -x / np.sqrt(-2.0 * log_beta)
    x2 = x * x
    for _ in range(GUESS_PASSES):
        with np.errstate(invalid="ignore", divide="ignore"):
            rhs = (
                -log_beta
                - LOG_SQRT_2PI
                - 0.125 * s * s
                + 3.0 * np.log(s)
                - np.log(x2 - 0.25 * s**4)
            )
            refined = -x / np.sqrt(2.0 * rhs)
        s = np.where(refined > 0, refined, s)
    return s


def _objective(
    x: FloatArray, s: FloatArray, lower: NDArray[np.bool_], beta: FloatArray, log_beta: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Objective and its first two s-derivatives: log space on the lower branch, linear above."""
    h = x / s
    half_s = 0.5 * s
    curvature = h * h / s - 0.5 * half_s  # c''(s) / c'(s) = x^2/s^3 - s/4
    log_vega = -LOG_SQRT_2PI - 0.5 * (h * h + half_s * half_s)  # ln c'(s)
    f = np.empty_like(s)
    df = np.empty_like(s)
    d2f = np.empty_like(s)

    lo = lower
    if lo.any():
        log_c = _log_call(x[lo], h[lo], half_s[lo])
        ratio = np.exp(log_vega[lo] - log_c)  # c'/c
        f[lo] = log_c - log_beta[lo]
        df[lo] = ratio
        d2f[lo] = ratio * (curvature[lo] - ratio)  # (ln c)'' = c''/c - (c'/c)^2
    up = ~lower
    if up.any():
        vega = np.exp(log_vega[up])
        f[up] = _call(x[up], s[up]) - beta[up]
        df[up] = vega
        d2f[up] = vega * curvature[up]
    return f, df, d2f


def _call(x: FloatArray, s: FloatArray) -> FloatArray:
    """Normalized Black call ``e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2)``."""
    h = x / s
    half_s = 0.5 * s
    out: FloatArray = np.exp(0.5 * x) * ndtr(h + half_s) - np.exp(-0.5 * x) * ndtr(h - half_s)
    return out


def _log_call(x: FloatArray, h: FloatArray, half_s: FloatArray) -> FloatArray:
    """``ln c(x, s)`` for x <= 0 without underflow, with ``h = x/s``:

    ``x/2 + ln N(h + s/2) + ln(1 - e^{-x} N(h - s/2) / N(h + s/2))``.
    """
    log_n1 = log_ndtr(h + half_s)
    log_n2 = log_ndtr(h - half_s)
    out: FloatArray = 0.5 * x + log_n1 + np.log1p(-np.exp(log_n2 - log_n1 - x))
    return out
