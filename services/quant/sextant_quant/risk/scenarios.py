"""Historical stress scenarios as ``Shock`` objects, for ``shock_scenario``.

Where the factor move is in a series the caller passes in (e.g. the S&P 500 levels of
``arch.data.sp500``, 1999-2018), it is computed from that series over the scenario's date window;
moves outside such data are explicit, documented parameters with their source in a comment.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd

from ._validate import RiskInputError
from .stress import Shock

WindowMeasure = Literal["window", "peak_to_trough"]

GFC_2008_WINDOW = ("2008-09-01", "2008-10-31")

# S&P 500 closes 3386.15 on 2020-02-19 (record high) and 2237.40 on 2020-03-23 (the low).
COVID_2020_EQUITY = 2237.40 / 3386.15 - 1  # -33.9%
# Approximate, to verify against FRED DGS10 and CBOE VIX before relying on them: 10y UST yield
# ~1.56% on 2020-02-19 -> ~0.76% on 2020-03-23; VIX close 14.38 -> 61.59 over the same dates.
COVID_2020_RATES_BP = -80.0
COVID_2020_VOL_POINTS = 61.59 - 14.38
# 10y UST yield (FRED DGS10) 1.52% on 2021-12-31 -> 3.88% on 2022-12-30.
RATES_2022_RATES_BP = (3.88 - 1.52) * 100  # +236bp
# S&P 500 closes 4766.18 on 2021-12-31 -> 3839.50 on 2022-12-30.
RATES_2022_EQUITY = 3839.50 / 4766.18 - 1  # -19.4%


def equity_move(
    levels: pd.Series,
    start: str | date,
    end: str | date,
    *,
    measure: WindowMeasure = "peak_to_trough",
) -> float:
    """Equity index move over ``[start, end]`` from price (or total-return index) ``levels``.

    ``levels`` is a pandas Series indexed by date (naive or tz-aware; ``start``/``end`` are
    calendar dates in the index's time zone, both inclusive). ``"window"`` is the return from
    the first to the last observation in the window; ``"peak_to_trough"`` is the largest
    drawdown within it (trough after peak), ``min_t P_t / max_{s<=t} P_s - 1``. Returned as a
    fraction (<= 0 for a drawdown).
    """
    if not isinstance(levels, pd.Series) or not isinstance(levels.index, pd.DatetimeIndex):
        raise RiskInputError("levels must be a pandas Series with a DatetimeIndex")
    if not levels.index.is_monotonic_increasing:
        raise RiskInputError("levels must be sorted by date (oldest first)")
    first_day, last_day = pd.Timestamp(start), pd.Timestamp(end)
    if levels.index.tz is not None:
        # Calendar dates are read in the series' own time zone.
        first_day, last_day = (
            first_day.tz_localize(levels.index.tz),
            last_day.tz_localize(levels.index.tz),
        )
    window = levels.loc[first_day:last_day].to_numpy(dtype=np.float64)
    if window.size < 2:
        first, last = levels.index.min(), levels.index.max()
        raise RiskInputError(
            f"levels has {window.size} observation(s) between {start} and {end}; its data "
            f"spans {first:%Y-%m-%d}..{last:%Y-%m-%d}, pass the move explicitly instead"
        )
    if not np.all(np.isfinite(window)) or np.any(window <= 0):
        raise RiskInputError(f"levels must be finite and > 0 between {start} and {end}")
    if measure == "window":
        return float(window[-1] / window[0] - 1)
    if measure == "peak_to_trough":
        return float(np.min(window / np.maximum.accumulate(window)) - 1)
    raise RiskInputError(f"measure must be 'window' or 'peak_to_trough', got {measure!r}")


def historical_scenario(
    name: str,
    levels: pd.Series,
    start: str | date,
    end: str | date,
    *,
    measure: WindowMeasure = "peak_to_trough",
    rates_bp: float = 0.0,
    vol_points: float = 0.0,
    vol_multiplier: float = 1.0,
    fx: Mapping[str, float] | None = None,
    description: str = "",
) -> Shock:
    """A ``Shock`` whose equity move is measured from ``levels`` over ``[start, end]``.

    The other factor moves are explicit parameters (units as in ``Shock``).
    """
    move = equity_move(levels, start, end, measure=measure)
    return Shock(
        name,
        equity=move,
        rates_bp=rates_bp,
        vol_multiplier=vol_multiplier,
        vol_points=vol_points,
        fx=dict(fx or {}),
        description=description or f"equity {measure} {start}..{end}: {move:+.1%}",
    )


def gfc_2008(
    sp500_levels: pd.Series,
    *,
    measure: WindowMeasure = "peak_to_trough",
    rates_bp: float = 0.0,
    vol_points: float = 0.0,
) -> Shock:
    """ "GFC 2008-09/10": the S&P 500 move over 2008-09-01..2008-10-31 measured from the data.

    On ``arch.data.sp500`` adjusted closes this is -33.6% peak to trough (1277.58 on 2008-09-02
    to 848.92 on 2008-10-27) or -24.2% over the window. Rates and vol are not in that data set;
    pass them explicitly if the portfolio is sensitive to them (default 0).
    """
    start, end = GFC_2008_WINDOW
    return historical_scenario(
        "GFC 2008-09/10",
        sp500_levels,
        start,
        end,
        measure=measure,
        rates_bp=rates_bp,
        vol_points=vol_points,
    )


def covid_2020_03(
    *,
    equity: float = COVID_2020_EQUITY,
    rates_bp: float = COVID_2020_RATES_BP,
    vol_points: float = COVID_2020_VOL_POINTS,
) -> Shock:
    """ "COVID 2020-03": S&P 500 peak to trough 2020-02-19..2020-03-23 with rates and VIX moves.

    Defaults are the documented constants of this module (the shipped data ends in 2018).
    """
    return Shock(
        "COVID 2020-03",
        equity=equity,
        rates_bp=rates_bp,
        vol_points=vol_points,
        description="S&P 500 2020-02-19..2020-03-23, 10y UST and VIX over the same dates",
    )


def rates_2022(
    *, equity: float = RATES_2022_EQUITY, rates_bp: float = RATES_2022_RATES_BP
) -> Shock:
    """ "2022 rates": the 2022 calendar-year moves of the 10y UST yield and the S&P 500."""
    return Shock(
        "2022 rates",
        equity=equity,
        rates_bp=rates_bp,
        description="10y UST 1.52% -> 3.88% and S&P 500 -19.4% over 2022",
    )
