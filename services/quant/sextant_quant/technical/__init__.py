"""Technical indicators equal to TA-Lib's (within 1e-9, same NaN warm-up), as pure functions
on float64 numpy arrays: numba where the arithmetic is a recursion or a running window sum
whose order of operations matters, numpy elsewhere. Only numpy and numba are needed, so the
features store can use them unchanged."""

from .bands import bbands
from .directional import adx
from .momentum import cci, macd, mom, roc, rsi, stoch, willr
from .moving_averages import ema, sma, wma
from .volatility import atr, true_range
from .volume import mfi, obv

__all__ = [
    "adx",
    "atr",
    "bbands",
    "cci",
    "ema",
    "macd",
    "mfi",
    "mom",
    "obv",
    "roc",
    "rsi",
    "sma",
    "stoch",
    "true_range",
    "willr",
    "wma",
]
