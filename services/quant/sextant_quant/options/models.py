"""Black-76 (options on futures/forwards) and Garman-Kohlhagen (FX) as special cases of the GBSM.

Both call :mod:`.bsm` with the matching cost of carry and relabel the rate sensitivities so each
model's Greeks mean what a desk using that model expects. Units as in :mod:`.bsm`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import ArrayLike

from ._inputs import FloatArray, check_finite, check_positive
from .bsm import Greeks, bsm_greeks, bsm_price


def black76_price(
    option_type: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
) -> FloatArray:
    """Black (1976) price of a European option on a futures/forward price ``forward``.

    ``c = e^{-rT} (F N(d1) - K N(d2))``: the GBSM with ``spot = forward`` and carry ``b = 0``.
    ``t`` in years, ``rate`` (discounting) and ``vol`` annualized fractions.
    """
    check_positive(forward, "forward")
    return bsm_price(option_type, forward, strike, t, rate, 0.0, vol)


def black76_greeks(
    option_type: ArrayLike,
    forward: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    rate: ArrayLike,
    vol: ArrayLike,
) -> Greeks:
    """Black-76 price and Greeks; ``delta``/``gamma`` are with respect to the futures price.

    ``theta`` is dV/dt with the futures price held fixed (Haug's futures-option theta) and ``rho``
    is dV/dr with the futures price held fixed, which is ``-T * price``. There is no yield in this
    model, so ``rho_yield`` is identically 0.
    """
    check_positive(forward, "forward")
    g = bsm_greeks(option_type, forward, strike, t, rate, 0.0, vol)
    # With b = 0 the GBSM "yield" q equals r, so a move in r moves both: rho + rho_yield.
    return replace(g, rho=g.rho + g.rho_yield, rho_yield=np.zeros_like(g.rho_yield))


def garman_kohlhagen_price(
    option_type: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    domestic_rate: ArrayLike,
    foreign_rate: ArrayLike,
    vol: ArrayLike,
) -> FloatArray:
    """Garman-Kohlhagen (1983) price of a European FX option, in domestic currency per unit.

    ``spot`` and ``strike`` are domestic units per foreign unit; the GBSM with
    ``b = domestic_rate - foreign_rate``.
    """
    r_d = check_finite(domestic_rate, "domestic_rate")
    r_f = check_finite(foreign_rate, "foreign_rate")
    return bsm_price(option_type, spot, strike, t, r_d, r_d - r_f, vol)


def garman_kohlhagen_greeks(
    option_type: ArrayLike,
    spot: ArrayLike,
    strike: ArrayLike,
    t: ArrayLike,
    domestic_rate: ArrayLike,
    foreign_rate: ArrayLike,
    vol: ArrayLike,
) -> Greeks:
    """Garman-Kohlhagen price and Greeks: ``rho`` is dV/dr_d (r_f fixed), ``rho_yield`` dV/dr_f."""
    r_d = check_finite(domestic_rate, "domestic_rate")
    r_f = check_finite(foreign_rate, "foreign_rate")
    return bsm_greeks(option_type, spot, strike, t, r_d, r_d - r_f, vol)
