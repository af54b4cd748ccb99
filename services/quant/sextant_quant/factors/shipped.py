"""The factor models Sextant answers for offline, each with the monthly factor data it ships
and where that data comes from. Loaded once per process; no network I/O."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, TypeAlias

import pandas as pd

from sextant_quant.factors.french import (
    load_shipped_carhart_monthly,
    load_shipped_ff3_monthly,
    load_shipped_ff5_monthly,
)
from sextant_quant.factors.models import Carhart4, FactorModel, FamaFrench3, FamaFrench5

ShippedModel: TypeAlias = Literal["ff3", "ff5", "carhart"]
"""Short names of the factor models with shipped data, as the API spells them."""

_FRENCH = "Kenneth French data library"


@dataclass(frozen=True)
class FactorData:
    """One model's monthly factor returns and the risk-free rate ("RF"), fractions per month,
    indexed by month-end date, with a sentence naming their source. The frame is shared by
    every caller: read it, never write to it."""

    model: type[FactorModel]
    returns: pd.DataFrame
    source: str

    @property
    def first_month_start(self) -> pd.Timestamp:
        """First day of the first month with factor returns."""
        return self.returns.index[0] - pd.offsets.MonthBegin(1)

    @property
    def last_month_end(self) -> pd.Timestamp:
        """Last day of the last month with factor returns."""
        return self.returns.index[-1]

    @property
    def span(self) -> str:
        """The covered months as ``YYYY-MM-DD..YYYY-MM-DD`` (first day..last day)."""
        return f"{self.first_month_start:%Y-%m-%d}..{self.last_month_end:%Y-%m-%d}"


@dataclass(frozen=True)
class _Entry:
    model: type[FactorModel]
    load: Callable[[], pd.DataFrame]
    source: str


_CATALOG: dict[ShippedModel, _Entry] = {
    "ff3": _Entry(
        FamaFrench3,
        load_shipped_ff3_monthly,
        f"{_FRENCH}: Fama/French 3 factors, monthly, as shipped in arch.data.frenchdata",
    ),
    "ff5": _Entry(
        FamaFrench5,
        load_shipped_ff5_monthly,
        f"{_FRENCH}: F-F_Research_Data_5_Factors_2x3, monthly, CRSP 202101 vintage, shipped "
        "with Sextant (copy from github.com/twood886/TWUtils@a45e1e4; Mkt-RF and RF checked "
        "against arch and linearmodels)",
    ),
    "carhart": _Entry(
        Carhart4,
        load_shipped_carhart_monthly,
        f"{_FRENCH}: Fama/French 3 factors and momentum (Mom), monthly, as shipped in "
        "linearmodels.datasets.french",
    ),
}


@functools.cache
def factor_data(model: ShippedModel) -> FactorData:
    """The shipped monthly data of ``model`` ("ff3", "ff5" or "carhart"): the model's factor
    columns and RF. Raises ValueError naming the known models for any other name."""
    entry = _CATALOG.get(model)
    if entry is None:
        raise ValueError(f"unknown factor model {model!r}; known: {', '.join(_CATALOG)}")
    columns = [*entry.model.default_factors, "RF"]
    return FactorData(entry.model, entry.load()[columns], entry.source)
