"""Scalar and array input checks shared by the quant packages.

Each package keeps its own ``ValueError`` subclass (``BacktestInputError``, ``RiskInputError``,
``OptionInputError``) and passes it as ``error``, so callers catch the same types as before and
every message names the field the same way.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def check_finite(value: float, name: str, error: type[ValueError]) -> float:
    """Return ``value`` as a finite float, else raise ``error`` naming ``name``."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise error(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise error(f"{name} must be finite, got {value!r}")
    return out


def check_positive(value: float, name: str, error: type[ValueError]) -> float:
    """Return ``value`` as a float that is finite and > 0, else raise ``error``."""
    out = check_finite(value, name, error)
    if out <= 0.0:
        raise error(f"{name} must be > 0, got {value!r}")
    return out


def as_float_array(values: ArrayLike, name: str, error: type[ValueError]) -> FloatArray:
    """``values`` as a float64 array (no copy when it already is one), else raise ``error``."""
    try:
        arr: FloatArray = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise error(f"{name} must be numeric: {exc}") from None
    return arr
