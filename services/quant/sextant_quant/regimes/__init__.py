"""Market regime detection: a Gaussian HMM over [return, realized vol] with filtered (no
look-ahead) and smoothed (research) state probabilities, names that claim only the order the
fit sample shows, GARCH(1,1) volatility regimes, and per-regime performance statistics. Pure
functions over pandas/numpy, no I/O."""

from sextant_quant.regimes.analyzer import RegimeAnalyzer, max_drawdown
from sextant_quant.regimes.garch import VOL_LABELS, GarchRegimes, fit_garch_regimes
from sextant_quant.regimes.hmm import (
    HMMRegimeModel,
    RegimePath,
    fit_hmm_regimes,
    regime_features,
)
from sextant_quant.regimes.labels import STATE_LABELS, VOLATILITY_LABELS, LabelOrder

__all__ = [
    "STATE_LABELS",
    "VOLATILITY_LABELS",
    "VOL_LABELS",
    "GarchRegimes",
    "HMMRegimeModel",
    "LabelOrder",
    "RegimeAnalyzer",
    "RegimePath",
    "fit_garch_regimes",
    "fit_hmm_regimes",
    "max_drawdown",
    "regime_features",
]
