"""Per-regime performance statistics of a return series."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sextant_quant.factors.series import (
    SeriesLike,
    align,
    as_frame,
    as_series,
    infer_periods_per_year,
)

COLUMNS = (
    "periods",
    "share",
    "ann_return",
    "ann_vol",
    "sharpe",
    "max_drawdown",
    "hit_rate",
    "avg_duration",
    "n_spells",
)


class RegimeAnalyzer:
    """Statistics of a return series within each regime.

    ``periods_per_year`` annualizes; None infers it from the dates. Returns are simple returns
    as fractions per period; pass excess returns for a Sharpe ratio in the usual sense.
    """

    def __init__(self, periods_per_year: float | None = None) -> None:
        if periods_per_year is not None and periods_per_year <= 0:
            raise ValueError(f"periods_per_year must be > 0, got {periods_per_year}")
        self.periods_per_year = periods_per_year

    def analyze(
        self,
        returns: SeriesLike,
        regimes: pd.Series | Sequence[str] | np.ndarray,
        labels: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """One row per regime present, with:

        - periods, share: count of dates in the regime and its fraction of all dates;
        - ann_return: mean return x periods per year (arithmetic);
        - ann_vol: sample standard deviation (ddof=1) x sqrt(periods per year);
        - sharpe: ann_return / ann_vol;
        - max_drawdown: worst peak-to-trough loss (<= 0) of wealth compounded over the regime's
          dates only, in date order, starting from a peak of 1;
        - hit_rate: share of the regime's dates with a positive return;
        - avg_duration, n_spells: mean length (in periods) and number of runs of consecutive
          dates in the regime.

        Returns and regimes are aligned by inner join on dates (by position for arrays). Rows
        follow ``labels``, else the regimes' categorical order, else first appearance. Raises
        ValueError on NaNs, unlabeled dates, or a regime with fewer than 2 dates or zero
        volatility (its vol and Sharpe would be undefined).
        """
        series = as_series(returns)
        raw = regimes if isinstance(regimes, pd.Series) else pd.Series(list(regimes))
        if raw.isna().any():
            raise ValueError(f"regimes has {int(raw.isna().sum())} unlabeled (NaN) date(s)")
        # align row positions rather than the labels themselves, which need not be numeric
        positions = pd.Series(np.arange(len(raw)), index=raw.index)
        if not isinstance(regimes, pd.Series):
            positions = positions.to_numpy()
        aligned = align({"returns": series.to_frame(), "regimes": as_frame(positions, "regimes")})
        r = aligned.frames[0].iloc[:, 0]
        state = raw.astype(object).to_numpy()[aligned.frames[1].iloc[:, 0].to_numpy().astype(int)]
        ppy = (
            self.periods_per_year
            if self.periods_per_year is not None
            else infer_periods_per_year(r.index)
        )
        order = _label_order(raw, state, labels)

        values = r.to_numpy()
        starts = np.r_[True, state[1:] != state[:-1]]
        rows = {}
        for label in order:
            mask = state == label
            x = values[mask]
            if len(x) < 2:
                raise ValueError(
                    f"regime {label!r} has {len(x)} date(s); need at least 2 to estimate its vol"
                )
            vol = float(x.std(ddof=1)) * np.sqrt(ppy)
            if vol == 0:
                raise ValueError(f"regime {label!r} has constant returns; its Sharpe is undefined")
            ann_return = float(x.mean()) * ppy
            n_spells = int((starts & mask).sum())
            rows[label] = {
                "periods": int(mask.sum()),
                "share": float(mask.mean()),
                "ann_return": ann_return,
                "ann_vol": vol,
                "sharpe": ann_return / vol,
                "max_drawdown": max_drawdown(x),
                "hit_rate": float((x > 0).mean()),
                "avg_duration": float(mask.sum()) / n_spells,
                "n_spells": n_spells,
            }
        out = pd.DataFrame.from_dict(rows, orient="index", columns=list(COLUMNS))
        out.index.name = "regime"
        out.attrs["dropped_rows"] = aligned.dropped_rows
        return out


def max_drawdown(returns: np.ndarray) -> float:
    """Worst peak-to-trough fall of wealth compounded from ``returns`` (fractions), measured
    from an initial peak of 1: a number <= 0, e.g. -0.25 for a 25% drawdown."""
    wealth = np.cumprod(1.0 + np.asarray(returns, dtype=float))
    peaks = np.maximum.accumulate(np.r_[1.0, wealth])[1:]
    return float(min((wealth / peaks - 1.0).min(), 0.0))


def _label_order(raw: pd.Series, state: np.ndarray, labels: Sequence[str] | None) -> list[object]:
    present = list(dict.fromkeys(state.tolist()))
    if labels is not None:
        unknown = [s for s in present if s not in labels]
        if unknown:
            raise ValueError(f"regimes {unknown} are not in labels {list(labels)}")
        return [label for label in labels if label in present]
    if isinstance(raw.dtype, pd.CategoricalDtype):
        return [c for c in raw.cat.categories if c in present]
    return present
