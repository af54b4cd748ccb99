"""Technical indicators benchmark: every indicator of ``sextant_quant.technical`` over 500
symbols x 2,520 days (10 years), against TA-Lib in the same process on the same arrays.

For each indicator: our warm median seconds (all symbols, one call per symbol, as the API and
the features store call it), TA-Lib's, their ratio (ours / TA-Lib: below 1 is faster), our
first call (numba compile or cache load) and the largest difference from TA-Lib (absolute
below 1, relative above). TA-Lib is the oracle only; the service never imports it. Prints
one JSON object; never asserts wall-clock numbers.
Run from the repository root: ``.venv/bin/python bench/quant_indicators.py``.
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import talib

from sextant_quant import technical

SYMBOLS = 500
DAYS = 2_520
REPEATS = 5
SEED = 20261207

Bars = dict[str, np.ndarray]
Call = Callable[[Bars], Any]

CASES: dict[str, tuple[Call, Call]] = {
    "sma:20": (lambda b: technical.sma(b["c"], 20), lambda b: talib.SMA(b["c"], 20)),
    "ema:50": (lambda b: technical.ema(b["c"], 50), lambda b: talib.EMA(b["c"], 50)),
    "wma:20": (lambda b: technical.wma(b["c"], 20), lambda b: talib.WMA(b["c"], 20)),
    "rsi:14": (lambda b: technical.rsi(b["c"], 14), lambda b: talib.RSI(b["c"], 14)),
    "macd:12:26:9": (lambda b: technical.macd(b["c"]), lambda b: talib.MACD(b["c"])),
    "bbands:20:2": (
        lambda b: technical.bbands(b["c"], 20, 2.0, 2.0),
        lambda b: talib.BBANDS(b["c"], 20, 2.0, 2.0),
    ),
    "atr:14": (
        lambda b: technical.atr(b["h"], b["l"], b["c"], 14),
        lambda b: talib.ATR(b["h"], b["l"], b["c"], 14),
    ),
    "adx:14 (+DI, -DI)": (
        lambda b: technical.adx(b["h"], b["l"], b["c"], 14),
        lambda b: (
            talib.ADX(b["h"], b["l"], b["c"], 14),
            talib.PLUS_DI(b["h"], b["l"], b["c"], 14),
            talib.MINUS_DI(b["h"], b["l"], b["c"], 14),
        ),
    ),
    "obv": (lambda b: technical.obv(b["c"], b["v"]), lambda b: talib.OBV(b["c"], b["v"])),
    "stoch:14:3:3": (
        lambda b: technical.stoch(b["h"], b["l"], b["c"], 14, 3, 3),
        lambda b: talib.STOCH(b["h"], b["l"], b["c"], 14, 3, 0, 3, 0),
    ),
    "willr:14": (
        lambda b: technical.willr(b["h"], b["l"], b["c"], 14),
        lambda b: talib.WILLR(b["h"], b["l"], b["c"], 14),
    ),
    "cci:20": (
        lambda b: technical.cci(b["h"], b["l"], b["c"], 20),
        lambda b: talib.CCI(b["h"], b["l"], b["c"], 20),
    ),
    "roc:10": (lambda b: technical.roc(b["c"], 10), lambda b: talib.ROC(b["c"], 10)),
    "mom:10": (lambda b: technical.mom(b["c"], 10), lambda b: talib.MOM(b["c"], 10)),
    "mfi:14": (
        lambda b: technical.mfi(b["h"], b["l"], b["c"], b["v"], 14),
        lambda b: talib.MFI(b["h"], b["l"], b["c"], b["v"], 14),
    ),
}


def universe() -> list[Bars]:
    """Seeded daily OHLCV walks, one per symbol (prices 5-500, vols 1-4% a day)."""
    rng = np.random.default_rng(SEED)
    out = []
    for _ in range(SYMBOLS):
        vol = rng.uniform(0.01, 0.04)
        close = rng.uniform(5.0, 500.0) * np.exp(np.cumsum(rng.normal(0.0, vol, DAYS)))
        opening = close * np.exp(rng.normal(0.0, vol / 2, DAYS))
        high = np.maximum(opening, close) * np.exp(np.abs(rng.normal(0.0, vol / 2, DAYS)))
        low = np.minimum(opening, close) * np.exp(-np.abs(rng.normal(0.0, vol / 2, DAYS)))
        volume = rng.integers(10_000, 10_000_000, DAYS).astype(float)
        out.append({"h": high, "l": low, "c": close, "v": volume})
    return out


def _all(call: Call, bars: list[Bars]) -> list[Any]:
    return [call(b) for b in bars]


def timed(call: Call, bars: list[Bars]) -> tuple[float, float, list[Any]]:
    """(first-run seconds, median of the warm repeats, last results) over every symbol."""
    start = time.perf_counter()
    result = _all(call, bars)
    first = time.perf_counter() - start
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = _all(call, bars)
        times.append(time.perf_counter() - start)
    return first, statistics.median(times), result


def worst_difference(ours: list[Any], theirs: list[Any]) -> tuple[float, bool]:
    """Largest |ours - TA-Lib| (relative above 1) and whether every NaN sits where TA-Lib's."""
    worst, same_nans = 0.0, True
    for got, want in zip(ours, theirs, strict=True):
        got = got if isinstance(got, tuple) else (got,)
        want = want if isinstance(want, tuple | list) else (want,)
        for g, w in zip(got, want, strict=True):
            same_nans &= bool(np.array_equal(np.isnan(g), np.isnan(w)))
            ok = ~np.isnan(w)
            err = np.abs(g[ok] - w[ok]) / np.maximum(1.0, np.abs(w[ok]))
            worst = max(worst, float(err.max()))
    return worst, same_nans


def main() -> None:
    bars = universe()
    rows: dict[str, dict[str, Any]] = {}
    for name, (ours, theirs) in CASES.items():
        first, warm, got = timed(ours, bars)
        _, talib_warm, want = timed(theirs, bars)
        worst, same_nans = worst_difference(got, want)
        rows[name] = {
            "ours_seconds": round(warm, 4),
            "talib_seconds": round(talib_warm, 4),
            "ratio_ours_to_talib": round(warm / talib_warm, 2),
            "ours_first_call_seconds": round(first, 3),
            "max_difference": worst,
            "same_warm_up": same_nans,
        }
    ours_total = sum(r["ours_seconds"] for r in rows.values())
    talib_total = sum(r["talib_seconds"] for r in rows.values())
    print(
        json.dumps(
            {
                "benchmark": "quant_indicators",
                "python": platform.python_version(),
                "numpy": np.__version__,
                "talib": talib.__ta_version__.decode(),
                "symbols": SYMBOLS,
                "days": DAYS,
                "indicators": rows,
                "all_indicators_ours_seconds": round(ours_total, 3),
                "all_indicators_talib_seconds": round(talib_total, 3),
                "all_indicators_ratio_ours_to_talib": round(ours_total / talib_total, 2),
                "target": "equal to TA-Lib within 1e-9 with the same warm-up",
                "meets_agreement_target": all(
                    r["max_difference"] <= 1e-9 and r["same_warm_up"] for r in rows.values()
                ),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
