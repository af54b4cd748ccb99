"""Listed-option mechanics for the event engine: expiry records, intrinsic values, model marks.

Pure helpers kept apart from the engine loop so the rules read in one place:

* time to expiry is Act/365 in years, measured from a bar's ``ts`` (bar start, ns UTC) to the
  option's ``expiry`` (ns UTC);
* options without quotes are priced with the quant library: ``bsm_price`` for European
  exercise, ``baw_price`` (Barone-Adesi & Whaley) for American, with the instrument's
  ``pricing_vol``, ``rate`` and ``carry`` (annualized fractions) — these are model prices, not
  market quotes;
* at expiry an option is worth its intrinsic value ``max(S - K, 0)`` (call) or
  ``max(K - S, 0)`` (put) per unit of the underlying.
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from ..options import baw_price, bsm_price
from ._validate import BacktestInputError

NS_PER_YEAR = 365 * 86_400 * 1_000_000_000
OPTION_TYPES = ("call", "put")
SETTLEMENTS = ("physical", "cash")
EXERCISE_STYLES = ("european", "american")


class OptionExpiry(NamedTuple):
    """What happened to one option position at expiry.

    ``qty`` is the signed number of contracts held before expiry, ``underlying_price`` the
    underlying's last close before the expiry bar (the settlement price), ``intrinsic`` the value
    per unit of the underlying, ``action`` one of "exercised" (long ITM), "assigned" (short ITM)
    or "expired" (OTM or at the money), ``cash`` the cash moved by the settlement (cash units:
    strike payments for physical delivery, intrinsic x multiplier x contracts for cash settlement).
    """

    bar_index: int
    ts: int
    symbol: str
    qty: float
    underlying_price: float
    intrinsic: float
    action: Literal["exercised", "assigned", "expired"]
    cash: float


def year_fraction(ts: int, expiry: int) -> float:
    """Act/365 years from ``ts`` to ``expiry`` (both ns since the Unix epoch, UTC)."""
    return (expiry - ts) / NS_PER_YEAR


def intrinsic_value(option_type: str, spot: float, strike: float) -> float:
    """Exercise value per unit of the underlying (currency units, >= 0)."""
    return max(spot - strike, 0.0) if option_type == "call" else max(strike - spot, 0.0)


def model_price(
    option_type: str,
    exercise: str,
    spot: float,
    strike: float,
    t: float,
    rate: float,
    carry: float,
    vol: float,
) -> float:
    """Model price per unit of the underlying: BSM (European) or BAW (American).

    ``t`` in years (> 0), ``rate``, ``carry`` and ``vol`` annualized fractions.
    """
    pricer = baw_price if exercise == "american" else bsm_price
    return float(pricer(option_type, spot, strike, t, rate, carry, vol))


def check_option_terms(
    symbol: str,
    underlying: str,
    option_type: str,
    strike: float,
    expiry: int,
    settlement: str,
    exercise: str,
    pricing_vol: float | None,
) -> None:
    """Raise ``BacktestInputError`` naming the first unusable option field of ``symbol``."""
    where = f"option {symbol!r}"
    if not underlying or underlying == symbol:
        raise BacktestInputError(
            f"{where}: underlying must name another instrument's symbol, got {underlying!r}"
        )
    if option_type not in OPTION_TYPES:
        raise BacktestInputError(
            f"{where}: option_type must be 'call' or 'put', got {option_type!r}"
        )
    if not (strike > 0 and strike < float("inf")):
        raise BacktestInputError(f"{where}: strike must be finite and > 0, got {strike!r}")
    if isinstance(expiry, bool) or not isinstance(expiry, int) or expiry <= 0:
        raise BacktestInputError(
            f"{where}: expiry must be an int of ns since the Unix epoch (UTC), like Bar.ts; "
            f"got {expiry!r}"
        )
    if settlement not in SETTLEMENTS:
        raise BacktestInputError(
            f"{where}: settlement must be 'physical' or 'cash', got {settlement!r}"
        )
    if exercise not in EXERCISE_STYLES:
        raise BacktestInputError(
            f"{where}: exercise must be 'european' or 'american', got {exercise!r}"
        )
    if pricing_vol is not None and not (pricing_vol > 0 and pricing_vol < float("inf")):
        raise BacktestInputError(
            f"{where}: pricing_vol must be a finite annualized fraction > 0 (0.2 = 20%), "
            f"got {pricing_vol!r}"
        )
