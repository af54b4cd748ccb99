"""Option pricing: European GBSM prices and Greeks, implied vols, American options, SVI surfaces.

Pure numpy/scipy, no I/O. Conventions shared by every function: ``t`` in years, rates, carry and
vols as annualized continuously compounded fractions (0.05 = 5%), cost of carry ``b = r - q``
(equity with dividend yield q), ``0`` (futures, Black-76) or ``r_d - r_f`` (FX); ``option_type``
is 'call'/'put' (or arrays of them, bools with True = call, or 1/-1). Arrays broadcast; bad inputs
raise :class:`OptionInputError` (a ``ValueError``) naming the field and the first bad index.
"""

from ._inputs import OptionInputError
from .american import baw_price, binomial_price
from .bsm import Greeks, bsm_greeks, bsm_price
from .implied_volatility import REASONS, ImpliedVolResult, implied_vol
from .models import (
    black76_greeks,
    black76_price,
    garman_kohlhagen_greeks,
    garman_kohlhagen_price,
)
from .surface import (
    ArbitrageReport,
    ButterflyViolation,
    CalendarViolation,
    SliceMetrics,
    SurfaceFit,
    fit_svi_surface,
)
from .svi import SviParams, SviSlice, fit_svi

__all__ = [
    "REASONS",
    "ArbitrageReport",
    "ButterflyViolation",
    "CalendarViolation",
    "Greeks",
    "ImpliedVolResult",
    "OptionInputError",
    "SliceMetrics",
    "SurfaceFit",
    "SviParams",
    "SviSlice",
    "baw_price",
    "binomial_price",
    "black76_greeks",
    "black76_price",
    "bsm_greeks",
    "bsm_price",
    "fit_svi",
    "fit_svi_surface",
    "garman_kohlhagen_greeks",
    "garman_kohlhagen_price",
    "implied_vol",
]
