"""Bad input fails loudly with a ValueError that names the field and the fix, never a NaN."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sextant_quant.risk import (
    RiskInputError,
    estimate_moments,
    historical_var,
    monte_carlo_var,
    normal_var,
    portfolio_var,
)

COV = np.array([[1e-4, 2e-5], [2e-5, 4e-4]])
W = np.array([0.6, 0.4])
# An option value outside the Literal types, as a caller without a type checker could pass.
UNKNOWN: Any = "unknown"


def test_errors_are_value_errors():
    assert issubclass(RiskInputError, ValueError)


def test_weights_and_covariance_shape_mismatch():
    with pytest.raises(ValueError, match="cov is 2x2 but weights has 3 entries"):
        normal_var([0.3, 0.3, 0.4], COV)
    with pytest.raises(ValueError, match="mean has 3 entries but the portfolio has 2 assets"):
        normal_var(W, COV, [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="weights has 3 entries but returns has 2 columns"):
        historical_var(np.zeros((100, 2)), [0.3, 0.3, 0.4])
    with pytest.raises(ValueError, match="cov must be a square matrix"):
        normal_var(W, np.zeros((2, 3)))


def test_nans_are_named_with_their_position():
    returns = np.random.default_rng(0).normal(size=(200, 2))
    returns[17, 1] = np.nan
    with pytest.raises(
        ValueError, match=r"returns contains 1 NaN/inf value\(s\) \(first at row 17"
    ):
        historical_var(returns, W)
    with pytest.raises(ValueError, match="returns contains 1 NaN"):
        estimate_moments(returns, vol_model="ewma")
    with pytest.raises(
        ValueError, match=r"weights contains 1 NaN/inf value\(s\) \(first at index 0"
    ):
        normal_var([np.nan, 1.0], COV)
    with pytest.raises(ValueError, match="cov contains"):
        normal_var(W, [[np.nan, 0.0], [0.0, 1.0]])


def test_non_psd_covariance_says_which_and_how_to_fix():
    bad = np.array([[1e-4, 3e-4], [3e-4, 1e-4]])  # correlation 3: eigenvalues 4e-4 and -2e-4
    for call in (
        lambda fix: normal_var(W, bad, fix_psd=fix),
        lambda fix: monte_carlo_var(W, bad, paths=1_000, fix_psd=fix),
    ):
        with pytest.raises(
            ValueError,
            match=r"cov is not positive semi-definite \(min eigenvalue -0.0002\); "
            r"pass fix_psd=True",
        ):
            call(False)
        assert call(True).var > 0
    with pytest.raises(ValueError, match="cov has a negative variance"):
        normal_var(W, [[-1e-4, 0.0], [0.0, 1e-4]])
    with pytest.raises(ValueError, match=r"cov is not symmetric.*fix_psd=True"):
        normal_var(W, [[1e-4, 1e-5], [0.0, 1e-4]])


def test_singular_covariance_is_accepted():
    singular = np.array([[1e-4, 1e-4], [1e-4, 1e-4]])  # perfectly correlated, rank 1
    assert normal_var(W, singular).var == pytest.approx(-1.6448536269514722 * -0.01)
    assert monte_carlo_var(W, singular, paths=10_000).var > 0


@pytest.mark.parametrize("confidence", [0.0, 1.0, 1.5, -0.1, float("nan"), 95])
def test_confidence_outside_the_unit_interval(confidence):
    with pytest.raises(ValueError, match="confidence must be"):
        normal_var(W, COV, confidence=confidence)


def test_other_parameters():
    with pytest.raises(ValueError, match="horizon must be > 0"):
        normal_var(W, COV, horizon=0)
    with pytest.raises(ValueError, match="df must be > 2"):
        monte_carlo_var(W, COV, distribution="t", df=2.0)
    with pytest.raises(ValueError, match=r"paths must be >= 100 at confidence 0\.99"):
        monte_carlo_var(W, COV, paths=50)
    with pytest.raises(ValueError, match="distribution must be 'normal' or 't'"):
        monte_carlo_var(W, COV, distribution=UNKNOWN)
    with pytest.raises(ValueError, match="weights were given but returns is 1-D"):
        historical_var(np.zeros(100), W)
    with pytest.raises(ValueError, match="interpolation must be one of"):
        historical_var(np.zeros(100), interpolation=UNKNOWN)
    with pytest.raises(ValueError, match="lam must be strictly between 0 and 1"):
        estimate_moments(np.zeros((10, 2)), vol_model="ewma", lam=1.0)
    with pytest.raises(ValueError, match="GARCH\\(1,1\\) needs at least 100"):
        estimate_moments(np.ones((50, 2)), vol_model="garch")
    with pytest.raises(ValueError, match="vol_model='ewma' applies to parametric"):
        portfolio_var(np.zeros((100, 2)), W, method="historical", vol_model="ewma")
    with pytest.raises(ValueError, match="method must be one of"):
        portfolio_var(np.zeros((100, 2)), W, method=UNKNOWN)
