"""Names for the fitted HMM's states that claim only the order the fit sample shows.

The rule (see ``sextant_quant.regimes.hmm``): a state is "bear" < "sideways" < "bull" only when
two orders agree on the fit sample: the model's mean return per state, and the realized mean
return of the dates on which that state is the most probable *filtered* state (what the REG panel
reports). Otherwise the states are named by volatility when the model's mean realized vol and
the realized vol on the filtered path agree, and else just numbered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

STATE_LABELS: dict[int, tuple[str, ...]] = {
    2: ("bear", "bull"),
    3: ("bear", "sideways", "bull"),
    4: ("crash", "bear", "sideways", "bull"),
}
"""Default names of the states in ascending order of return (model and realized agreeing)."""

VOLATILITY_LABELS: dict[int, tuple[str, ...]] = {
    2: ("low-vol", "high-vol"),
    3: ("low-vol", "mid-vol", "high-vol"),
    4: ("low-vol", "mid-vol", "high-vol", "extreme-vol"),
}
"""Names when the return order fails but the volatility order holds, ascending vol."""

MIN_STATE_DAYS = 2
"""Dates a state must lead the filtered path on for its realized return and vol to count."""

NamedBy = Literal["return", "volatility", "number"]


@dataclass(frozen=True)
class LabelOrder:
    """Why the states carry the names they do, measured on the fit sample."""

    consistent: bool
    """True when the return names (e.g. bear < sideways < bull) hold: the model's mean
    returns and the realized returns on the filtered path order the states the same way"""
    named_by: NamedBy
    """"return": return names; "volatility": ``VOLATILITY_LABELS``; "number": state-1 ..
    state-n in the order of the model's mean returns, claiming nothing more"""
    reason: str | None
    """None when consistent, else why the return names were not used"""
    by_state: pd.DataFrame
    """one row per label, in label order: model_return (the state's mean return x periods per
    year), model_vol (its mean realized-vol feature), realized_return (mean return of its
    filtered-path dates x periods per year), realized_vol (their standard deviation, ddof=1, x
    sqrt(periods per year)), all annualized fractions (NaN when the state leads on fewer than
    ``MIN_STATE_DAYS`` dates); days and share of the filtered path it leads"""


def name_states(
    model_return: np.ndarray,
    model_vol: np.ndarray,
    filtered_state: np.ndarray,
    returns: np.ndarray,
    periods_per_year: float,
    return_names: Sequence[str],
) -> tuple[np.ndarray, tuple[str, ...], LabelOrder]:
    """Decide the state order and names of a fitted HMM.

    ``model_return`` (per period) and ``model_vol`` (annualized) are the states' fitted means,
    with the states in ascending order of ``model_return``; ``filtered_state`` is the index of
    the most probable filtered state per date of ``returns`` (per period). Returns the
    permutation to apply to the states, their names in that order and the ``LabelOrder``.
    """
    n_states = len(model_return)
    days = np.bincount(filtered_state, minlength=n_states)
    realized_return, realized_vol = _realized(filtered_state, returns, n_states)
    realized_return *= periods_per_year
    realized_vol *= np.sqrt(periods_per_year)
    by_return = np.arange(n_states)  # the states arrive in model mean-return order
    reason = _disorder("return", model_return * periods_per_year, realized_return, by_return, days)
    named_by: NamedBy
    if reason is None:
        order, names, named_by = by_return, tuple(return_names), "return"
    else:
        by_vol = np.argsort(model_vol, kind="stable")
        if _disorder("volatility", model_vol, realized_vol, by_vol, days) is None:
            order, names, named_by = by_vol, VOLATILITY_LABELS[n_states], "volatility"
        else:
            order = by_return
            names = tuple(f"state-{k + 1}" for k in range(n_states))
            named_by = "number"
    table = pd.DataFrame(
        {
            "model_return": model_return * periods_per_year,
            "model_vol": model_vol,
            "realized_return": realized_return,
            "realized_vol": realized_vol,
            "days": days,
            "share": days / len(filtered_state),
        }
    ).iloc[order]
    table.index = pd.Index(names, name="state")
    label_order = LabelOrder(
        consistent=reason is None, named_by=named_by, reason=reason, by_state=table
    )
    return order, names, label_order


def _realized(
    state: np.ndarray, returns: np.ndarray, n_states: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per state: mean and standard deviation (ddof=1) per period of the returns of the dates it
    leads; NaN for a state leading fewer than ``MIN_STATE_DAYS`` dates."""
    mean = np.full(n_states, np.nan)
    vol = np.full(n_states, np.nan)
    for k in range(n_states):
        x = returns[state == k]
        if len(x) >= MIN_STATE_DAYS:
            mean[k], vol[k] = x.mean(), x.std(ddof=1)
    return mean, vol


def _disorder(
    what: str, model: np.ndarray, realized: np.ndarray, order: np.ndarray, days: np.ndarray
) -> str | None:
    """None when ``realized`` increases strictly along ``order`` (the model's ascending order of
    ``what``), else a sentence saying where it does not."""
    rare = [int(k) for k in order if days[k] < MIN_STATE_DAYS]
    if rare:
        listed = ", ".join(f"{model[k]:+.1%}" for k in rare)
        return (
            f"the state(s) with model mean {what} {listed} a year lead the filtered path on "
            f"fewer than {MIN_STATE_DAYS} dates, so their realized {what} is unknown"
        )
    if (np.diff(realized[order]) > 0).all():
        return None
    return (
        f"the model's mean {what} orders the states "
        f"{' < '.join(f'{model[k]:+.1%}' for k in order)} a year, but their realized {what} on "
        f"the filtered path is {', '.join(f'{realized[k]:+.1%}' for k in order)} a year "
        "in that order, which is not increasing"
    )
