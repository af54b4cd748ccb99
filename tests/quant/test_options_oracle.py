"""QuantLib as the test oracle for sextant_quant.options, and checks that it is set up right.

``QuantLibMarket`` builds one BlackScholesMertonProcess on flat Actual/365F curves driven by
SimpleQuote handles, so re-pricing a row only sets quote values. Times are whole calendar days
from a fixed evaluation date and our ``t`` is ``days / 365`` exactly, so both sides see the same
year fraction. The other test modules import it from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import QuantLib as ql

EVALUATION_DATE = ql.Date(15, ql.January, 2025)
DAY_COUNT = ql.Actual365Fixed()


def year_fraction(days: int) -> float:
    """Our ``t`` for an expiry ``days`` calendar days after the evaluation date (Act/365F)."""
    return days / 365.0


@dataclass
class QuantLibMarket:
    """A flat-curve Black-Scholes-Merton market whose inputs are SimpleQuotes."""

    spot: ql.SimpleQuote
    rate: ql.SimpleQuote
    dividend: ql.SimpleQuote
    vol: ql.SimpleQuote
    process: ql.BlackScholesMertonProcess

    @classmethod
    def create(cls, day_count: ql.DayCounter = DAY_COUNT) -> QuantLibMarket:
        ql.Settings.instance().evaluationDate = EVALUATION_DATE
        spot, rate, dividend, vol = (ql.SimpleQuote(0.0) for _ in range(4))
        process = ql.BlackScholesMertonProcess(
            ql.QuoteHandle(spot),
            ql.YieldTermStructureHandle(
                ql.FlatForward(EVALUATION_DATE, ql.QuoteHandle(dividend), day_count)
            ),
            ql.YieldTermStructureHandle(
                ql.FlatForward(EVALUATION_DATE, ql.QuoteHandle(rate), day_count)
            ),
            ql.BlackVolTermStructureHandle(
                ql.BlackConstantVol(
                    EVALUATION_DATE, ql.NullCalendar(), ql.QuoteHandle(vol), day_count
                )
            ),
        )
        return cls(spot, rate, dividend, vol, process)

    def set(self, spot: float, rate: float, dividend: float, vol: float) -> None:
        self.spot.setValue(spot)
        self.rate.setValue(rate)
        self.dividend.setValue(dividend)
        self.vol.setValue(vol)

    def option(
        self,
        is_call: bool,
        strike: float,
        days: int,
        engine: Callable[[ql.BlackScholesMertonProcess], ql.PricingEngine] | None = None,
        american: bool = False,
    ) -> ql.VanillaOption:
        """A vanilla option on this market, European (analytic engine) unless ``american``."""
        payoff = ql.PlainVanillaPayoff(ql.Option.Call if is_call else ql.Option.Put, strike)
        expiry = EVALUATION_DATE + days
        exercise = (
            ql.AmericanExercise(EVALUATION_DATE, expiry)
            if american
            else ql.EuropeanExercise(expiry)
        )
        option = ql.VanillaOption(payoff, exercise)
        make = engine or ql.AnalyticEuropeanEngine
        option.setPricingEngine(make(self.process))
        return option


@pytest.fixture(scope="module")
def market() -> QuantLibMarket:
    return QuantLibMarket.create()


# Haug (2007), "The Complete Guide to Option Pricing Formulas", 2nd ed., ch. 1 examples (the same
# values appear in the 1st ed., McGraw-Hill 1998, pp. 2-8, and in QuantLib's test-suite
# europeanoption.cpp): (call?, spot, strike, dividend yield q, rate r, years, vol, price to 4 dp).
HAUG_EUROPEAN = [
    (True, 60.0, 65.0, 0.00, 0.08, 0.25, 0.30, 2.1334),  # GBSM / Black-Scholes 1973
    (False, 100.0, 95.0, 0.05, 0.10, 0.50, 0.20, 2.4648),  # Merton 1973, index option
    (False, 19.0, 19.0, 0.10, 0.10, 0.75, 0.28, 1.7011),  # Black 1976, b = 0 (q = r)
    (True, 19.0, 19.0, 0.10, 0.10, 0.75, 0.28, 1.7011),  # Black 1976
    (True, 1.56, 1.60, 0.08, 0.06, 0.50, 0.12, 0.0291),  # Garman-Kohlhagen, r_f = 8%
    (False, 75.0, 70.0, 0.05, 0.10, 0.50, 0.35, 4.0870),  # GBSM with b = r - q
]


@pytest.mark.parametrize("row", HAUG_EUROPEAN)
def test_oracle_reproduces_haug(row: tuple[float, ...]) -> None:
    """The QuantLib set-up itself agrees with Haug before it judges our code. Haug's years are
    not whole days of a 365-day year, so this market counts Actual/360 (0.25 y = 90 days), as
    QuantLib's own test-suite does for these values."""
    market = QuantLibMarket.create(ql.Actual360())
    is_call, spot, strike, q, r, years, vol, expected = row
    market.set(spot, r, q, vol)
    days = round(years * 360)
    assert days == years * 360
    price = market.option(bool(is_call), strike, days).NPV()
    assert price == pytest.approx(expected, abs=5e-5)
