"""SVI slice fits and the volatility surface: recovery, interpolation, metrics and arbitrage flags.

All quotes here are SYNTHETIC: generated from known SVI parameters, so the fit must give them back.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy.special import ndtr

from sextant_quant.options import SviParams, fit_svi, fit_svi_surface

# A clean, arbitrage-free equity-like surface (synthetic): total variance rises with expiry at
# every k, skew negative, wings within Lee's bound.
CLEAN = {
    0.25: SviParams(a=0.005, b=0.10, rho=-0.50, m=0.00, sigma=0.10),
    0.50: SviParams(a=0.012, b=0.12, rho=-0.45, m=0.01, sigma=0.12),
    1.00: SviParams(a=0.030, b=0.15, rho=-0.40, m=0.02, sigma=0.15),
}
# Axel Vogt's slice (Gatheral & Jacquier 2014, "Arbitrage-free SVI volatility surfaces", sec. 5.1,
# t = 1): a valid raw SVI (a + b sigma sqrt(1 - rho^2) > 0) with butterfly arbitrage, g < 0 for k
# in about (0.65, 1.25).
VOGT = SviParams(a=-0.0410, b=0.1331, rho=0.3060, m=0.3586, sigma=0.4153)
K_QUOTES = np.linspace(-0.6, 0.4, 21)


def synthetic_quotes(
    slices: dict[float, SviParams], k: np.ndarray = K_QUOTES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.concatenate([np.full(k.size, expiry) for expiry in slices])
    kk = np.tile(k, len(slices))
    vol = np.concatenate([np.sqrt(p.total_variance(k) / expiry) for expiry, p in slices.items()])
    return t, kk, vol


@pytest.mark.parametrize(
    ("params", "t", "k"),
    [
        (SviParams(a=0.02, b=0.4, rho=-0.4, m=0.05, sigma=0.2), 1.0, np.linspace(-1, 1, 41)),
        (SviParams(a=0.001, b=0.05, rho=-0.7, m=0.01, sigma=0.05), 0.1, np.linspace(-0.3, 0.2, 25)),
        (SviParams(a=0.04, b=0.2, rho=0.3, m=-0.1, sigma=0.3), 2.0, np.linspace(-1.5, 1.5, 15)),
    ],
)
def test_fit_recovers_known_svi_parameters(params: SviParams, t: float, k: np.ndarray) -> None:
    fit = fit_svi(k, np.sqrt(params.total_variance(k) / t), t)
    got = fit.params
    for name in ("a", "b", "rho", "m", "sigma"):
        assert getattr(got, name) == pytest.approx(getattr(params, name), abs=1e-7), name
    assert fit.rmse_vol < 1e-12
    assert fit.n_quotes == k.size


def test_fit_with_noise_and_weights_stays_close() -> None:
    rng = np.random.default_rng(0)
    params, t = CLEAN[0.5], 0.5
    vol = np.sqrt(params.total_variance(K_QUOTES) / t) + rng.normal(0, 5e-4, K_QUOTES.size)
    fit = fit_svi(K_QUOTES, vol, t, weights=np.linspace(1, 2, K_QUOTES.size))
    model = np.sqrt(params.total_variance(K_QUOTES) / t)
    assert np.abs(fit.vol(K_QUOTES) - model).max() < 1e-3
    assert 2e-4 < fit.rmse_vol < 1e-3
    assert fit.params.min_variance >= 0


def test_surface_interpolates_linearly_in_total_variance() -> None:
    surface = fit_svi_surface(*synthetic_quotes(CLEAN))
    np.testing.assert_allclose(surface.expiries, [0.25, 0.5, 1.0])
    k = np.linspace(-0.5, 0.3, 9)
    for expiry, p in CLEAN.items():
        np.testing.assert_allclose(
            surface.vol(k, expiry), np.sqrt(p.total_variance(k) / expiry), atol=1e-12
        )
    w_mid = surface.total_variance(k, 0.75)
    expected = 0.5 * (CLEAN[0.5].total_variance(k) + CLEAN[1.0].total_variance(k))
    np.testing.assert_allclose(w_mid, expected, atol=1e-12)
    # Outside the fitted expiries the nearest smile is held constant in vol.
    np.testing.assert_allclose(surface.vol(k, 0.1), surface.vol(k, 0.25), atol=1e-12)
    np.testing.assert_allclose(surface.vol(k, 3.0), surface.vol(k, 1.0), atol=1e-12)
    # Broadcasting: a grid of k against a column of t.
    assert surface.vol(k, np.array([[0.3], [0.6]])).shape == (2, 9)


def test_metrics_and_term_structure() -> None:
    surface = fit_svi_surface(*synthetic_quotes(CLEAN))
    expiries, atm = surface.term_structure()
    for m, (expiry, p) in zip(surface.metrics(), CLEAN.items(), strict=True):
        vol = lambda k, p=p, expiry=expiry: np.sqrt(p.total_variance(k) / expiry)  # noqa: E731
        h = 1e-4
        assert m.t == expiry
        assert m.atm_vol == pytest.approx(float(vol(0.0)), rel=1e-12)
        assert m.atm_skew == pytest.approx((vol(h) - vol(-h)) / (2 * h), rel=1e-6)
        assert m.atm_convexity == pytest.approx((vol(h) - 2 * vol(0.0) + vol(-h)) / h**2, rel=1e-4)
        assert m.atm_skew < 0 and m.rr25 < 0  # equity-like skew
        assert not m.butterfly_arbitrage and m.min_g > 0
        # rr25/bf25 use the k whose forward call delta N(d1) is 0.25 and 0.75.
        k_c = _strike_for_delta(p, expiry, 0.25)
        k_p = _strike_for_delta(p, expiry, 0.75)
        # (the brute-force grid step is 1e-5 in k, so agreement is to ~1e-5 in vol)
        assert m.rr25 == pytest.approx(float(vol(k_c) - vol(k_p)), abs=2e-5)
        assert m.bf25 == pytest.approx(float(0.5 * (vol(k_c) + vol(k_p)) - vol(0.0)), abs=2e-5)
    np.testing.assert_allclose(atm, [m.atm_vol for m in surface.metrics()])
    np.testing.assert_allclose(expiries, list(CLEAN))


def _strike_for_delta(p: SviParams, t: float, delta: float) -> float:
    """Brute-force inverse of N(d1) on a fine grid (independent of the library's root finder)."""
    k = np.linspace(-2, 2, 400_001)
    w = p.total_variance(k)
    d = ndtr(-k / np.sqrt(w) + 0.5 * np.sqrt(w))
    return float(k[np.argmin(np.abs(d - delta))])


def test_clean_surface_has_no_arbitrage() -> None:
    report = fit_svi_surface(*synthetic_quotes(CLEAN)).arbitrage()
    assert report.free
    assert report.butterfly == () and report.calendar == ()


def test_butterfly_arbitrage_flagged_on_vogt_slice() -> None:
    k = np.linspace(-1.5, 1.5, 61)
    surface = fit_svi_surface(np.ones(k.size), k, np.sqrt(VOGT.total_variance(k)))
    report = surface.arbitrage()
    assert not report.free and report.calendar == ()
    (violation,) = report.butterfly
    assert 0.6 < violation.k_from < 0.7 and 1.2 < violation.k_to < 1.3
    assert violation.min_g == pytest.approx(-0.0329, abs=5e-4)
    assert surface.metrics()[0].butterfly_arbitrage


def test_calendar_arbitrage_flagged_when_variance_falls_with_expiry() -> None:
    # The 1-year smile quoted at 0.4 years: variance at 0.5 y now exceeds the 0.4 y... and the
    # 0.5 y slice lies below the 0.4 y one around the money.
    crossed = {0.4: CLEAN[1.0], 0.5: CLEAN[0.5]}
    report = fit_svi_surface(*synthetic_quotes(crossed)).arbitrage()
    assert report.butterfly == ()
    assert len(report.calendar) >= 1
    v = report.calendar[0]
    assert (v.t_near, v.t_far) == (0.4, 0.5)
    assert v.k_from <= 0.0 <= v.k_to
    assert v.max_drop > 0.01


def test_bad_quotes_raise_value_error_naming_the_field() -> None:
    k = np.linspace(-0.2, 0.2, 7)
    with pytest.raises(
        ValueError, match=re.escape("vol must be finite and > 0, got -0.2 at index 3")
    ):
        fit_svi(k, np.r_[0.2, 0.2, 0.2, -0.2, 0.2, 0.2, 0.2], 0.5)
    with pytest.raises(ValueError, match=re.escape("at least 5 quotes, got 4 (expiry t=0.25)")):
        fit_svi_surface([0.25] * 4 + [0.5] * 7, np.r_[k[:4], k], np.full(11, 0.2))
    with pytest.raises(ValueError, match=re.escape("t must be finite and > 0, got 0.0 at index 0")):
        fit_svi_surface(np.zeros(7), k, np.full(7, 0.2))
    with pytest.raises(ValueError, match=re.escape("log_moneyness has 7 quotes but vol has 6")):
        fit_svi(k, np.full(6, 0.2), 0.5)
    with pytest.raises(ValueError, match=re.escape("log_moneyness must be finite")):
        fit_svi(np.r_[k[:-1], np.nan], np.full(7, 0.2), 0.5)
