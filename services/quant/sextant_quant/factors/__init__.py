"""Factor models (Fama-French 3/5, Carhart 4) fitted by OLS with Newey-West t-stats, rolling
exposures, portfolio exposures and return attribution; Kenneth French file parsing and the
monthly factor data shipped offline for each model. Pure functions over pandas/numpy, no network
I/O."""

from sextant_quant.factors.french import (
    load_shipped_carhart_monthly,
    load_shipped_ff3_monthly,
    load_shipped_ff5_monthly,
    parse_french_csv,
    parse_french_zip,
)
from sextant_quant.factors.models import (
    Attribution,
    Carhart4,
    FactorFit,
    FactorModel,
    FamaFrench3,
    FamaFrench5,
    PortfolioExposures,
)
from sextant_quant.factors.ols import newey_west_lags
from sextant_quant.factors.shipped import FactorData, ShippedModel, factor_data

__all__ = [
    "Attribution",
    "Carhart4",
    "FactorData",
    "FactorFit",
    "FactorModel",
    "FamaFrench3",
    "FamaFrench5",
    "PortfolioExposures",
    "ShippedModel",
    "factor_data",
    "load_shipped_carhart_monthly",
    "load_shipped_ff3_monthly",
    "load_shipped_ff5_monthly",
    "newey_west_lags",
    "parse_french_csv",
    "parse_french_zip",
]
