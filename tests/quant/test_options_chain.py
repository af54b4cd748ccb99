"""A stored chain analysed: implied vols of the mids, Greeks (vs QuantLib) and the SVI surface's
arbitrage flags, on chains priced from known smiles."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pytest
import QuantLib as ql

from sextant_quant.options import OptionInputError, SviParams, bsm_price
from sextant_quant.options.chain import (
    chain_greeks,
    fit_chain_surface,
    price_chain,
    surface_grid,
    years_to_expiry,
)

# 21:00 UTC: every expiry is a whole number of days away, as QuantLib counts them.
SNAPSHOT = datetime(2026, 12, 7, 21, tzinfo=UTC)
SPOT, RATE, YIELD = 100.0, 0.04, 0.01
STRIKES = np.arange(70.0, 131.0, 5.0)
# Gatheral & Jacquier (2014), section 5.1: a raw SVI slice with butterfly arbitrage (t = 1).
ARBITRAGE_SLICE = SviParams(a=-0.0410, b=0.1331, rho=0.3060, m=0.3586, sigma=0.4153)
CALM_SLICE = SviParams(a=0.02, b=0.1, rho=-0.5, m=0.0, sigma=0.2)


def chain_rows(
    slices: dict[date, SviParams], strikes: np.ndarray = STRIKES
) -> list[dict[str, Any]]:
    """OptionQuote-shaped rows: calls and puts at every strike, mids at the slice's vols, a
    0.2% spread around them."""
    rows = []
    for expiry, params in slices.items():
        t = years_to_expiry(expiry, SNAPSHOT)
        forward = SPOT * np.exp((RATE - YIELD) * t)
        for right in ("call", "put"):
            vol = np.sqrt(params.total_variance(np.log(strikes / forward)) * t) / t
            mids = bsm_price(right, SPOT, strikes, t, RATE, RATE - YIELD, vol)
            for strike, mid in zip(strikes.tolist(), mids.tolist(), strict=True):
                rows.append(
                    {
                        "contract": f"X{expiry:%y%m%d}{right[0].upper()}{strike:08.0f}",
                        "expiry": expiry.isoformat(),
                        "strike": strike,
                        "right": right,
                        "bid": mid * 0.999,
                        "ask": mid * 1.001,
                        "underlying_price": SPOT,
                        "implied_vol": None,
                    }
                )
    return rows


def scaled(params: SviParams, t: float) -> SviParams:
    """A slice of the same smile in vol at expiry ``t`` (total variance scaled by t)."""
    return SviParams(params.a * t, params.b * t, params.rho, params.m, params.sigma)


EXPIRIES = {date(2027, 3, 19): 0.28, date(2027, 6, 18): 0.53, date(2027, 12, 17): 1.03}


def test_mids_invert_to_the_vols_they_were_priced_at() -> None:
    rows = chain_rows({e: scaled(CALM_SLICE, t) for e, t in EXPIRIES.items()})

    frame = price_chain(rows, SNAPSHOT, RATE, YIELD)

    forward = SPOT * np.exp((RATE - YIELD) * frame.t)
    want = np.sqrt(
        np.array(
            [
                scaled(CALM_SLICE, EXPIRIES[date.fromisoformat(r["expiry"])]).total_variance(
                    np.log(r["strike"] / f)
                )
                for r, f in zip(rows, forward, strict=True)
            ]
        )
        / frame.t
    )
    assert np.allclose(frame.iv, want, rtol=1e-9)
    assert all(reason == "" for reason in frame.iv_reason)


def test_greeks_agree_with_quantlib() -> None:
    rows = chain_rows({date(2027, 3, 19): scaled(CALM_SLICE, 0.28)})
    frame = price_chain(rows, SNAPSHOT, RATE, YIELD)
    greeks, used = chain_greeks(frame)
    assert used == ["ours"] * len(rows)

    today = ql.Date(7, 12, 2026)
    ql.Settings.instance().evaluationDate = today
    day_count = ql.Actual365Fixed()
    for i in (0, 6, 12, 13, 19, 25):
        spot = ql.SimpleQuote(SPOT)
        process = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(spot),
            ql.YieldTermStructureHandle(ql.FlatForward(today, YIELD, day_count)),
            ql.YieldTermStructureHandle(ql.FlatForward(today, RATE, day_count)),
            ql.BlackVolTermStructureHandle(
                ql.BlackConstantVol(today, ql.NullCalendar(), float(frame.iv[i]), day_count)
            ),
        )
        kind = ql.Option.Call if rows[i]["right"] == "call" else ql.Option.Put
        option = ql.VanillaOption(
            ql.PlainVanillaPayoff(kind, rows[i]["strike"]),
            ql.EuropeanExercise(ql.Date(19, 3, 2027)),
        )
        option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
        for name, want in (
            ("delta", option.delta()),
            ("gamma", option.gamma()),
            ("vega", option.vega()),
            ("theta", option.theta()),
            ("theta_per_day", option.thetaPerDay()),
            ("rho", option.rho()),
        ):
            assert greeks[name][i] == pytest.approx(want, rel=1e-9, abs=1e-12), (name, i)


def test_the_provider_vol_stands_in_for_an_unquoted_contract() -> None:
    rows = chain_rows({date(2027, 3, 19): scaled(CALM_SLICE, 0.28)})
    rows[0] = {**rows[0], "bid": None, "ask": None, "implied_vol": 0.3}
    rows[1] = {**rows[1], "bid": None, "ask": None}

    frame = price_chain(rows, SNAPSHOT, RATE, YIELD)
    greeks, used = chain_greeks(frame)

    assert np.isnan(frame.iv[:2]).all() and frame.iv_reason[:2] == ["no two-sided quote"] * 2
    assert used[:3] == ["provider", None, "ours"]
    assert np.isfinite(greeks["delta"][0]) and np.isnan(greeks["delta"][1])


def test_an_arbitrage_free_chain_fits_without_flags() -> None:
    rows = chain_rows({e: scaled(CALM_SLICE, t) for e, t in EXPIRIES.items()})

    surface = fit_chain_surface(price_chain(rows, SNAPSHOT, RATE, YIELD))

    assert surface.arbitrage.free
    assert surface.expiries == sorted(EXPIRIES)
    assert max(abs(q["residual"]) for q in surface.quotes) < 1e-4


def test_a_planted_butterfly_arbitrage_is_flagged() -> None:
    expiry = date(2027, 12, 7)  # t = 1: the published slice as it is
    # its g < 0 lies at k = 0.65..1.25: strikes reach 1.7 x the forward
    rows = chain_rows({expiry: ARBITRAGE_SLICE}, strikes=np.arange(50.0, 301.0, 10.0))

    surface = fit_chain_surface(price_chain(rows, SNAPSHOT, RATE, YIELD))

    assert surface.arbitrage.butterfly, "Durrleman's g < 0 was not flagged"
    assert not surface.arbitrage.free
    assert min(v.min_g for v in surface.arbitrage.butterfly) < 0


def test_a_planted_calendar_arbitrage_is_flagged() -> None:
    near, far = date(2027, 3, 19), date(2027, 6, 18)
    rows = chain_rows({near: scaled(CALM_SLICE, 0.4), far: scaled(CALM_SLICE, 0.3)})

    report = fit_chain_surface(price_chain(rows, SNAPSHOT, RATE, YIELD)).arbitrage

    assert report.calendar and report.calendar[0].max_drop > 0


def test_thin_expiries_are_skipped_and_a_chain_with_none_fittable_is_refused() -> None:
    rows = chain_rows({e: scaled(CALM_SLICE, t) for e, t in EXPIRIES.items()})
    thin = date(2027, 12, 17)
    rows = [r for r in rows if r["expiry"] != thin.isoformat() or r["strike"] in (95.0, 105.0)]

    frame = price_chain(rows, SNAPSHOT, RATE, YIELD)
    surface = fit_chain_surface(frame)
    strikes, vols = surface_grid(surface, frame, 11)

    assert thin in surface.skipped and thin not in surface.expiries
    assert vols.shape == (2, 11) and strikes[0] == 70.0 and strikes[-1] == 130.0
    assert np.isfinite(vols).all()
    with pytest.raises(OptionInputError, match="at least 5"):
        fit_chain_surface(price_chain(rows[:8], SNAPSHOT, RATE, YIELD))


def test_smiles_crossing_only_beyond_the_quotes_are_not_flagged() -> None:
    near, far = date(2027, 3, 19), date(2027, 6, 18)
    steep = SviParams(a=0.02 * 0.28, b=0.3 * 0.28, rho=0.0, m=0.0, sigma=0.1)  # crosses at k ~ 0.2
    rows = chain_rows({near: steep}, strikes=np.arange(86.0, 111.0, 2.0)) + chain_rows(
        {far: scaled(CALM_SLICE, 0.53)}, strikes=np.arange(55.0, 181.0, 5.0)
    )

    surface = fit_chain_surface(price_chain(rows, SNAPSHOT, RATE, YIELD))

    assert surface.arbitrage.free
    assert surface.fit.arbitrage().calendar  # extrapolated over the far expiry's range
