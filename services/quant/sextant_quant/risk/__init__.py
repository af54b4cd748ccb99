"""Portfolio risk: VaR/CVaR (historical, normal, Cornish-Fisher, Monte Carlo), volatility
models (sample, EWMA, GARCH), VaR backtests and stress tests. Pure numpy/scipy, no I/O.

Sign convention: VaR and CVaR are positive fractions of portfolio value for a loss; see
``sextant_quant.risk.var`` for horizon scaling and quantile rules.
"""

from ._validate import RiskInputError, clip_to_psd
from .backtest import LRTest, VaRBacktest, backtest_var, christoffersen_independence, kupiec_pof
from .covariance import (
    RISKMETRICS_LAMBDA,
    Moments,
    RiskModelError,
    corr_to_cov,
    cov_to_corr,
    estimate_moments,
    ewma_cov,
    garch_vols,
    sample_cov,
)
from .scenarios import covid_2020_03, equity_move, gfc_2008, historical_scenario, rates_2022
from .stress import (
    STANDARD_SHOCKS,
    AssetClass,
    Portfolio,
    Position,
    PositionPnL,
    RegimeShiftResult,
    ScenarioResult,
    Shock,
    correlation_regime_shift,
    shock_scenario,
)
from .var import (
    VaRResult,
    cornish_fisher_var,
    historical_var,
    monte_carlo_var,
    normal_var,
    portfolio_var,
    simulate_portfolio_returns,
)

__all__ = [
    "RISKMETRICS_LAMBDA",
    "STANDARD_SHOCKS",
    "AssetClass",
    "LRTest",
    "Moments",
    "Portfolio",
    "Position",
    "PositionPnL",
    "RegimeShiftResult",
    "RiskInputError",
    "RiskModelError",
    "ScenarioResult",
    "Shock",
    "VaRBacktest",
    "VaRResult",
    "backtest_var",
    "christoffersen_independence",
    "clip_to_psd",
    "cornish_fisher_var",
    "corr_to_cov",
    "correlation_regime_shift",
    "cov_to_corr",
    "covid_2020_03",
    "equity_move",
    "estimate_moments",
    "ewma_cov",
    "garch_vols",
    "gfc_2008",
    "historical_scenario",
    "historical_var",
    "kupiec_pof",
    "monte_carlo_var",
    "normal_var",
    "portfolio_var",
    "rates_2022",
    "sample_cov",
    "shock_scenario",
    "simulate_portfolio_returns",
]
