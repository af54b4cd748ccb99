"""Input coercion shared by the option functions: float arrays, broadcasting and option types.

Every failure raises :class:`OptionInputError` (a ``ValueError``) naming the field and the first
offending index, e.g. ``vol must be > 0, got -0.2 at index 17``, so a caller can fix the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _checks

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

_CALL_NAMES = frozenset({"c", "call"})
_PUT_NAMES = frozenset({"p", "put"})


class OptionInputError(ValueError):
    """An option function was given unusable input; the message names the field and the index."""


def as_float(values: ArrayLike, name: str) -> FloatArray:
    """``values`` as a float64 array (no copy when it already is one)."""
    return _checks.as_float_array(values, name, OptionInputError)


def where(arr: NDArray[np.generic], bad: BoolArray) -> str:
    """`` at index 17`` (or `` at index (3, 4)``) for the first True of ``bad``; '' for a scalar."""
    if arr.ndim == 0:
        return ""
    first = tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), bad.shape))
    return f" at index {first[0]}" if len(first) == 1 else f" at index {first}"


def _first_bad(arr: FloatArray, bad: BoolArray) -> tuple[float, str]:
    flat = int(np.argmax(bad))
    return float(arr.reshape(-1)[flat]), where(arr, bad)


def check_positive(values: ArrayLike, name: str) -> FloatArray:
    """A float array whose every entry is finite and > 0 (NaN and inf are rejected)."""
    arr = as_float(values, name)
    if arr.size == 0:
        return arr
    # min/max are single SIMD passes and propagate NaN, so the happy path costs two reductions.
    lo, hi = arr.min(), arr.max()
    if lo > 0.0 and hi < np.inf:
        return arr
    bad = ~((arr > 0.0) & (arr < np.inf))
    value, at = _first_bad(arr, bad)
    if np.isnan(value):
        raise OptionInputError(f"{name} must be a number > 0, got NaN{at}")
    raise OptionInputError(f"{name} must be finite and > 0, got {value!r}{at}")


def check_finite(values: ArrayLike, name: str) -> FloatArray:
    """A float array whose every entry is finite (negative values are allowed)."""
    arr = as_float(values, name)
    if arr.size == 0:
        return arr
    lo, hi = arr.min(), arr.max()
    if -np.inf < lo and hi < np.inf:
        return arr
    value, at = _first_bad(arr, ~np.isfinite(arr))
    raise OptionInputError(f"{name} must be finite, got {value!r}{at}")


def broadcast_shape(fields: Mapping[str, NDArray[np.generic]]) -> tuple[int, ...]:
    """The common broadcast shape of ``fields``, or an error naming the first field that clashes."""
    shape: tuple[int, ...] = ()
    seen: list[str] = []
    for name, arr in fields.items():
        try:
            shape = np.broadcast_shapes(shape, arr.shape)
        except ValueError:
            so_far = ", ".join(f"{n} {fields[n].shape}" for n in seen)
            raise OptionInputError(
                f"{name} has shape {arr.shape}, which does not broadcast with {so_far}; "
                "pass arrays of one length (or scalars)"
            ) from None
        seen.append(name)
    return shape


def broadcast_flat(
    fields: Mapping[str, NDArray[np.generic]],
) -> tuple[tuple[int, ...], dict[str, NDArray[Any]]]:
    """The broadcast shape of ``fields`` and each field broadcast to it and flattened to 1-D.

    The flat arrays are broadcast views; reshape copies only inputs that broadcast across several
    axes.
    """
    shape = broadcast_shape(fields)
    return shape, {name: np.broadcast_to(a, shape).reshape(-1) for name, a in fields.items()}


def parse_option_type(option_type: ArrayLike, name: str = "option_type") -> BoolArray:
    """``True`` where the option is a call.

    Accepts ``"call"``/``"c"``/``"put"``/``"p"`` (any case) as a string or an array of strings, a
    bool array (``True`` = call), or integers ``1`` (call) and ``-1`` or ``0`` (put).
    """
    if isinstance(option_type, str):
        return np.asarray(_parse_name(option_type, name, ""))
    arr = np.asarray(option_type)
    if arr.dtype == np.bool_:
        out: BoolArray = arr
        return out
    if arr.dtype.kind in "iu":
        bad = (arr != 1) & (arr != 0) & (arr != -1)
        if bad.any():
            value = arr.reshape(-1)[int(np.argmax(bad))]
            raise OptionInputError(
                f"{name} integers must be 1 (call) or -1/0 (put), got {value}{where(arr, bad)}"
            )
        return np.asarray(arr == 1)
    if arr.dtype.kind in "USO":
        # Parse each distinct label once: a million rows usually hold two labels.
        labels, inverse = np.unique(arr.astype(str), return_inverse=True)
        parsed = np.empty(labels.shape, dtype=np.bool_)
        for i, label in enumerate(labels):
            bad_rows = inverse.reshape(arr.shape) == i
            parsed[i] = _parse_name(str(label), name, where(arr, bad_rows))
        return np.asarray(parsed[inverse].reshape(arr.shape))
    raise OptionInputError(
        f"{name} must be 'call'/'put' strings, bools (True = call) or 1/-1 integers, "
        f"got dtype {arr.dtype}"
    )


def _parse_name(label: str, name: str, at: str) -> bool:
    key = label.strip().lower()
    if key in _CALL_NAMES:
        return True
    if key in _PUT_NAMES:
        return False
    raise OptionInputError(f"{name} must be 'call' or 'put' (or 'c'/'p'), got {label!r}{at}")
