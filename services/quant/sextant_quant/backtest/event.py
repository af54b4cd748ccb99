"""Event-driven backtesting engine: bars -> ``Strategy.on_bar`` -> orders -> fills -> ledger.

Pure library (no I/O): bars come in as a sequence of ``Bar`` records or as one numpy structured
array (``BAR_DTYPE``) per symbol. The loop is plain Python kept tight (local variables, O(1)
incremental indicators, one tuple per bar), which is what makes it several hundred thousand bars
per second on one core.

Execution rules (documented because results depend on them):

* ``fill_at="close"`` (default, vectorbt's convention, so results match the vectorized engine):
  a market order placed in ``on_bar`` fills at that bar's close. ``fill_at="next_open"``: at the
  open of the symbol's next bar.
* Market orders pay slippage (``Slippage``) and the taker rate; limit orders are first eligible
  on the bar after they are placed, fill at the open if it is already through the limit, else at
  the limit when the bar's range touches it, with no slippage and the maker rate.
* **No fills on zero-volume bars**: orders due on such a bar stay pending and fill at the open of
  the symbol's next bar with volume > 0 (limit orders: when that bar reaches the limit).
* Buys of cash-settled instruments (equity, crypto) are cut to the cash available (fees
  included); futures need ``margin * notional`` of equity to open and are otherwise unlimited.
* Sizes are rounded down to the instrument's ``lot_size`` (0 = fractional, e.g. crypto).
* Futures settle daily: on the first bar of a new UTC day the previous close's variation
  ``qty * multiplier * (close - last settlement)`` moves into cash; equity includes the variation
  since the last settlement.
* Maintenance margin (futures only): each settlement above is followed by a margin check. When
  cash (after that variation) is below the total maintenance requirement of the open futures
  positions, ``sum |qty| * multiplier * last close * maintenance``, where ``maintenance`` is
  the instrument's ``maintenance_margin`` fraction (default 0.75 x the initial ``margin``; a
  contract with 0 adds nothing and is never liquidated), a ``MarginCall`` is recorded in
  ``EventResult.margin_calls`` and whole positions are force-liquidated, the settling contract
  first and then the other futures in instrument order, until cash covers what is left open or
  every futures position is closed. Liquidations are market orders at each contract's last
  close (for the settling contract: the settlement price) with its slippage and commission,
  stamped on the bar that triggered the settlement and delivered to ``on_fill``; pending orders
  of a liquidated contract are cancelled. Cash, not equity, is tested, so cash spent on other
  holdings counts against the futures account. To roll a position from one contract to the
  next, wrap the strategy in ``rolls.RollingStrategy``.
* FX pairs (``kind="fx"``, e.g. EURUSD = USD per EUR) trade on margin like futures: quantities
  are units of the base currency, no notional changes hands, and P&L accrues in the quote
  currency. The account currency is USD (``ACCOUNT_CURRENCY``): for USD-quoted pairs (EURUSD) the
  P&L is already USD; for USD-based pairs (USDJPY) quote-currency amounts (P&L, notional for
  fees and margin) are converted at the pair's last close known when they are booked: the bar's
  close for marks and for ``fill_at="close"`` fills, the previous close for fills at an open.
  Cross pairs (EURJPY) would need a second rate and are rejected. Spreads are modelled with
  ``Slippage`` (``per_unit`` = half the spread in quote units), commissions on the USD notional;
  rollover/swap interest is not modelled, and weekend gaps are whatever the bars contain.
  The USD ledger is ``equity``/``cash``/``positions``; round-trip ``trades`` keep price-unit P&L
  (quote currency, fees in USD), so for USD-based pairs read P&L from the ledger.
* Options (``kind="option"``, :meth:`InstrumentSpec.option`) trade in contracts of
  ``multiplier`` units and are paid for like equity (premium x multiplier; shorts receive the
  premium and are not margined). An option with bars of its own fills and marks at them like any
  symbol. An option without bars is **model priced**: BSM (European) or BAW (American) with its
  ``pricing_vol``/``rate``/``carry``, the underlying's price and Act/365 years from the bar's
  ``ts`` to ``expiry``. Its marks are these model prices (not quotes), taken at the close of each
  underlying bar; its market orders fill at the model price from the underlying's close when
  placed on one of the underlying's bars with ``fill_at="close"``, otherwise at the model price
  from the open of the underlying's next traded bar (with the option's slippage and fees). Limit
  orders on model-priced options are refused.
* Expiry is processed before anything else on the first bar (of any symbol) with
  ``ts >= expiry``, at the underlying's last close before that bar (bars are stamped with their
  start, so that close is the last price known at expiry). Long in-the-money options are
  exercised and short ones assigned, automatically, including American ones (no early exercise):
  physical settlement books ``contracts x multiplier`` units of the underlying at the strike
  against cash (calls: long receives / short delivers; puts the mirror image) and closes the
  option at 0; cash settlement closes it at its intrinsic value. Out-of-the-money (and
  at-the-money) options expire worthless: the position is closed at 0, the premium lost (or kept
  by a writer). Each settlement adds zero-commission fills (delivered to ``on_fill``) and an
  ``OptionExpiry`` record in ``EventResult.expiries``; later orders for the option are dropped.
  An option whose expiry comes after the last bar stays open, marked as above.
* Equity is recorded after every bar: cash plus every position marked at its symbol's last close
  (model-priced options: their last model price).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import starmap
from typing import Any, Literal, NamedTuple, Protocol

import numpy as np
from numpy.typing import NDArray

from ._validate import (
    BacktestInputError,
    FloatArray,
    check_finite,
    check_non_negative,
    check_positive,
)
from .indicators import CrossDetector, make_indicator
from .options_mechanics import (
    OptionExpiry,
    check_option_terms,
    intrinsic_value,
    model_price,
    year_fraction,
)
from .results import Trades
from .specs import BuyAndHold, MaCross, MeanReversion, Momentum, RegimeFiltered, StrategySpec

NS_PER_DAY = 86_400 * 1_000_000_000
ACCOUNT_CURRENCY = "USD"

BAR_DTYPE = np.dtype(
    [
        ("ts", "i8"),
        ("open", "f8"),
        ("high", "f8"),
        ("low", "f8"),
        ("close", "f8"),
        ("volume", "f8"),
    ]
)
"""Structured dtype of one symbol's bars: ``ts`` in ns since the Unix epoch (UTC), bar start."""


class Bar(NamedTuple):
    """One OHLCV bar. ``ts`` is the bar start in ns since the Unix epoch (UTC)."""

    symbol: str
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float


# --- costs and instruments ---------------------------------------------------------------------


@dataclass(frozen=True)
class Commission:
    """Linear commission per fill: ``percent`` of notional + ``per_unit`` per share/contract +
    ``fixed`` per fill, floored at ``minimum`` (all in cash units; percent as a fraction)."""

    percent: float = 0.0
    per_unit: float = 0.0
    fixed: float = 0.0
    minimum: float = 0.0

    def __post_init__(self) -> None:
        for name in ("percent", "per_unit", "fixed", "minimum"):
            check_non_negative(getattr(self, name), f"commission {name}")

    def rate(self, maker: bool) -> float:
        """Fraction of notional charged (the same for maker and taker fills)."""
        return self.percent

    def fee(self, qty: float, notional: float, maker: bool) -> float:
        """Commission in cash for a fill of ``qty`` units worth ``notional`` (both > 0)."""
        return max(notional * self.percent + qty * self.per_unit + self.fixed, self.minimum)


@dataclass(frozen=True)
class MakerTaker:
    """Crypto-style fee schedule: fractions of notional for maker (resting limit) and taker
    (market) fills. A negative ``maker`` is a rebate; ``taker`` must be >= 0."""

    maker: float = 0.0002
    taker: float = 0.0005

    def __post_init__(self) -> None:
        check_non_negative(self.taker, "taker fee")
        if not math.isfinite(self.maker) or self.maker <= -1.0:
            raise BacktestInputError(
                f"maker fee must be a finite fraction > -1, got {self.maker!r}"
            )

    def rate(self, maker: bool) -> float:
        """Fraction of notional charged for a maker or a taker fill."""
        return self.maker if maker else self.taker

    def fee(self, qty: float, notional: float, maker: bool) -> float:
        """Commission in cash (negative for a maker rebate)."""
        return notional * (self.maker if maker else self.taker)


CommissionModel = Commission | MakerTaker


@dataclass(frozen=True)
class Slippage:
    """Market-order slippage: the fill is ``fraction`` of price plus ``per_unit`` (cash per unit,
    e.g. one tick) worse than the reference price; limit orders never slip."""

    fraction: float = 0.0
    per_unit: float = 0.0

    def __post_init__(self) -> None:
        check_non_negative(self.fraction, "slippage fraction")
        check_non_negative(self.per_unit, "slippage per_unit")


@dataclass(frozen=True)
class InstrumentSpec:
    """How one symbol trades and settles.

    ``kind``: "equity" and "crypto" are cash-settled (buying pays the notional); "future" is
    marked to market daily into cash with a contract ``multiplier``, an initial ``margin``
    (fraction of notional) and a ``maintenance_margin`` (fraction of notional, <= ``margin``;
    None = 0.75 x ``margin``) checked at each daily settlement (see the module notes). "fx"
    is a currency pair named base+quote (``"EURUSD"``, ``"USD/JPY"``) with USD on one side,
    traded on ``margin`` in units of the base currency, its P&L converted to USD (see the
    module notes). ``lot_size`` is the smallest tradable quantity (0 = any
    fraction; e.g. 1,000 units for FX micro lots).

    "option" is a listed option on ``underlying`` (another instrument's symbol), quantities in
    contracts of ``multiplier`` units, paid for like equity (premium x multiplier); build one
    with :meth:`option` (multiplier 100, whole contracts by default). ``option_type`` is
    "call"/"put", ``strike`` in the underlying's price units, ``expiry`` in ns since the Unix
    epoch (UTC, like ``Bar.ts``), ``settlement`` "physical" (deliver the underlying at the
    strike) or "cash" (pay the intrinsic value), ``exercise`` "european" or "american" (both are
    exercised automatically at expiry only). ``pricing_vol``, ``rate`` and ``carry`` (annualized
    fractions; ``carry`` defaults to ``rate``) price the option with the quant library when it
    has no bars of its own. The option fields are ignored for the other kinds.
    """

    symbol: str
    kind: Literal["equity", "crypto", "future", "fx", "option"] = "equity"
    multiplier: float = 1.0
    lot_size: float = 0.0
    margin: float = 1.0
    commission: CommissionModel = field(default_factory=Commission)
    slippage: Slippage = field(default_factory=Slippage)
    underlying: str = ""
    option_type: Literal["call", "put"] = "call"
    strike: float = 0.0
    expiry: int = 0
    settlement: Literal["physical", "cash"] = "physical"
    exercise: Literal["european", "american"] = "european"
    pricing_vol: float | None = None
    rate: float = 0.0
    carry: float | None = None
    maintenance_margin: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("equity", "crypto", "future", "fx", "option"):
            raise BacktestInputError(
                f"kind must be equity, crypto, future, fx or option, got {self.kind!r}"
            )
        check_positive(self.multiplier, "multiplier")
        check_non_negative(self.lot_size, "lot_size")
        check_positive(self.margin, "margin")
        if self.maintenance_margin is not None:
            check_non_negative(self.maintenance_margin, "maintenance_margin")
            if self.maintenance_margin > self.margin:
                raise BacktestInputError(
                    f"maintenance_margin must be <= the initial margin {self.margin!r} for "
                    f"{self.symbol!r}, got {self.maintenance_margin!r}"
                )
        if self.kind == "fx":
            self.fx_pair  # noqa: B018 - validates the symbol
        if self.kind == "option":
            check_option_terms(
                self.symbol,
                self.underlying,
                self.option_type,
                self.strike,
                self.expiry,
                self.settlement,
                self.exercise,
                self.pricing_vol,
            )
            check_finite(self.rate, f"option {self.symbol!r} rate")
            if self.carry is not None:
                check_finite(self.carry, f"option {self.symbol!r} carry")

    @classmethod
    def option(
        cls,
        symbol: str,
        *,
        underlying: str,
        option_type: Literal["call", "put"],
        strike: float,
        expiry: int,
        multiplier: float = 100.0,
        settlement: Literal["physical", "cash"] = "physical",
        exercise: Literal["european", "american"] = "european",
        pricing_vol: float | None = None,
        rate: float = 0.0,
        carry: float | None = None,
        lot_size: float = 1.0,
        commission: CommissionModel | None = None,
        slippage: Slippage | None = None,
    ) -> InstrumentSpec:
        """An option contract spec (``kind="option"``) with a contract ``multiplier`` of 100 and
        whole-contract ``lot_size`` unless given; see the class docstring for the fields."""
        return cls(
            symbol,
            kind="option",
            multiplier=multiplier,
            lot_size=lot_size,
            commission=commission or Commission(),
            slippage=slippage or Slippage(),
            underlying=underlying,
            option_type=option_type,
            strike=strike,
            expiry=expiry,
            settlement=settlement,
            exercise=exercise,
            pricing_vol=pricing_vol,
            rate=rate,
            carry=carry,
        )

    @property
    def maintenance(self) -> float:
        """Maintenance margin as a fraction of notional: ``maintenance_margin``, or 0.75 x the
        initial ``margin`` when it is not set (futures only; see the module notes)."""
        if self.maintenance_margin is None:
            return 0.75 * self.margin
        return self.maintenance_margin

    @property
    def fx_pair(self) -> tuple[str, str]:
        """(base, quote) currency codes of an FX pair's symbol, e.g. ("EUR", "USD")."""
        code = "".join(ch for ch in self.symbol if ch not in "/_-. ").upper()
        if len(code) != 6 or not code.isalpha():
            raise BacktestInputError(
                f"fx symbol must be a currency pair like 'EURUSD' or 'USD/JPY', got {self.symbol!r}"
            )
        base, quote = code[:3], code[3:]
        if ACCOUNT_CURRENCY not in (base, quote):
            raise BacktestInputError(
                f"fx pair {self.symbol!r} has no {ACCOUNT_CURRENCY} leg: cross pairs need a "
                f"second rate to convert P&L to {ACCOUNT_CURRENCY} and are not supported; "
                "trade the two USD legs instead"
            )
        return base, quote


# --- orders, fills, context --------------------------------------------------------------------


@dataclass
class Order:
    """A pending order. ``qty`` is signed (+ buy, - sell); ``target_percent`` orders resolve
    their quantity at fill time from equity and the fill price."""

    symbol: str
    qty: float
    limit: float | None = None
    target_percent: float | None = None
    placed_index: int = -1


class Fill(NamedTuple):
    """One execution: signed ``qty``, ``price`` (after slippage), ``commission`` in cash."""

    bar_index: int
    ts: int
    symbol: str
    qty: float
    price: float
    commission: float
    maker: bool


@dataclass
class Position:
    """One symbol's holding: signed ``qty``, average entry ``avg_price``, ``realized_pnl``
    (cash, before commissions) and ``settle_price`` (futures: last variation-margin mark)."""

    qty: float = 0.0
    avg_price: float = 0.0
    realized_pnl: float = 0.0
    settle_price: float = 0.0


class Context:
    """What a strategy sees and does: ``cash``, ``equity``, ``position(symbol)`` and orders."""

    def __init__(self, engine: _Engine) -> None:
        self._engine = engine
        self.new_orders: list[Order] = []
        self.bar_index = -1

    @property
    def cash(self) -> float:
        """Cash now (cash units)."""
        return self._engine.cash

    @property
    def equity(self) -> float:
        """Cash plus all positions marked at their last close."""
        return self._engine.equity_now()

    def position(self, symbol: str) -> float:
        """Signed quantity held in ``symbol``."""
        return self._engine.positions[self._engine.symbol_id(symbol)].qty

    def buy(self, symbol: str, qty: float, limit: float | None = None) -> None:
        """Buy ``qty`` > 0 units at market (or at ``limit`` or better)."""
        self._submit(symbol, abs(qty), limit, None)

    def sell(self, symbol: str, qty: float, limit: float | None = None) -> None:
        """Sell ``qty`` > 0 units at market (or at ``limit`` or better)."""
        self._submit(symbol, -abs(qty), limit, None)

    def order_target_percent(self, symbol: str, percent: float) -> None:
        """Market order to hold ``percent`` of equity in ``symbol`` (1.0 = all-in long, -1.0 =
        all-in short, 0 = flat); the quantity is resolved at the fill price, fees included."""
        self._submit(symbol, 0.0, None, percent)

    def cancel_all(self, symbol: str) -> None:
        """Cancel every pending order for ``symbol``."""
        self._engine.cancel(self._engine.symbol_id(symbol))

    def _submit(self, symbol: str, qty: float, limit: float | None, target: float | None) -> None:
        k = self._engine.symbol_id(symbol)  # raises for unknown symbols
        if limit is not None and not (math.isfinite(limit) and limit > 0):
            raise BacktestInputError(f"limit price must be finite and > 0, got {limit!r}")
        if limit is not None and self._engine.model_priced[k]:
            raise BacktestInputError(
                f"limit orders on {symbol!r} need its quotes: it has no bars and is model priced; "
                "send a market order or pass the option's bars"
            )
        if target is None and not (math.isfinite(qty) and qty != 0):
            raise BacktestInputError(f"order quantity must be finite and non-zero, got {qty!r}")
        if target is not None and not math.isfinite(target):
            raise BacktestInputError(f"target percent must be finite, got {target!r}")
        self.new_orders.append(Order(symbol, qty, limit, target, self.bar_index))


class Strategy(Protocol):
    """Anything with ``on_bar(bar, ctx)``; ``on_fill(fill, ctx)`` is called when present."""

    def on_bar(self, bar: Bar, ctx: Context) -> None: ...


class SpecStrategy:
    """Runs a ``StrategySpec`` bar by bar with O(1) incremental indicators, all-in sizing
    (``order_target_percent`` of +1 / 0 / -1), independently on every symbol it sees."""

    def __init__(self, spec: StrategySpec) -> None:
        self.spec = spec
        self._state: dict[str, Any] = {}

    def on_bar(self, bar: Bar, ctx: Context) -> None:
        """Update the symbol's indicators and re-target its position on a signal."""
        state = self._state.get(bar.symbol)
        if state is None:
            state = self._state[bar.symbol] = _SpecState(self.spec)
        target = state.update(bar.close)
        if target != state.held:
            state.held = target
            ctx.order_target_percent(bar.symbol, float(target))


class _SpecState:
    __slots__ = ("buf", "cross", "fast", "held", "kind", "off", "slow", "spec", "state")

    def __init__(self, spec: StrategySpec) -> None:
        self.spec = spec
        self.held = 0
        self.state = 0
        self.off = -1 if spec.allow_short else 0
        self.buf: deque[float] = deque()
        if isinstance(spec, MaCross):
            self.kind = "cross"
            self.fast = make_indicator(spec.fast_kind, spec.fast)
            self.slow = make_indicator(spec.slow_kind, spec.slow)
            self.cross = CrossDetector()
        elif isinstance(spec, Momentum):
            self.kind = "mom"
        elif isinstance(spec, MeanReversion):
            self.kind = "mr"
        elif isinstance(spec, BuyAndHold):
            self.kind = "bh"
        elif isinstance(spec, RegimeFiltered):
            raise BacktestInputError(
                f"{spec} needs its HMM fitted on a whole sample, so it runs on run_spec "
                "(vectorized) only; run that, or feed its target_positions to your own Strategy"
            )
        else:
            raise BacktestInputError(f"unsupported strategy spec {spec!r}")

    def update(self, price: float) -> int:
        kind = self.kind
        if kind == "cross":
            sig = self.cross.update(self.fast.update(price), self.slow.update(price))
            if sig == 1:
                self.state = 1
            elif sig == -1:
                self.state = self.off
        elif kind == "mom":
            spec = self.spec
            assert isinstance(spec, Momentum)
            buf = self.buf
            buf.append(price)
            if len(buf) > spec.lookback:
                past = buf.popleft()
                if price > past:
                    self.state = 1
                elif price < past:
                    self.state = self.off
        elif kind == "mr":
            self._update_mr(price)
        else:
            self.state = 1
        return self.state

    def _update_mr(self, price: float) -> None:
        spec = self.spec
        assert isinstance(spec, MeanReversion)
        buf = self.buf
        buf.append(price)
        if len(buf) > spec.window:
            buf.popleft()
        if len(buf) < spec.window:
            return
        arr = np.fromiter(buf, dtype=np.float64, count=spec.window)
        mean = arr.mean()
        var = ((arr - mean) ** 2).sum() / (spec.window - 1)
        if var <= 0.0:
            return
        z = (price - mean) / math.sqrt(var)
        if (self.state == 1 and z >= -spec.z_exit) or (self.state == -1 and z <= spec.z_exit):
            self.state = 0
        if self.state == 0:
            if z <= -spec.z_entry:
                self.state = 1
            elif spec.allow_short and z >= spec.z_entry:
                self.state = -1


# --- results -----------------------------------------------------------------------------------


class MarginCall(NamedTuple):
    """A futures margin call at a daily settlement: bar ``bar_index``/``ts`` settled ``symbol``,
    after which ``cash`` was below ``requirement`` (total maintenance margin of the open futures,
    cash units); ``liquidated`` lists the contracts closed, in order, and ``cash_after`` is the
    cash once they were."""

    bar_index: int
    ts: int
    symbol: str
    cash: float
    requirement: float
    liquidated: tuple[str, ...]
    cash_after: float


@dataclass(frozen=True)
class EventResult:
    """An event-driven run: per-bar ``ts``, ``symbol``, ``equity`` and ``cash`` (aligned with the
    merged bar stream), every ``fill``, the round-trip ``trades`` (per symbol, flat to flat) and
    the final ``positions``. ``commission`` is the total paid (cash units). ``expiries`` records
    every option position settled at expiry (exercised, assigned or expired worthless);
    ``margin_calls`` every futures margin call and its forced liquidations."""

    ts: NDArray[np.int64]
    symbols: tuple[str, ...]
    symbol_index: NDArray[np.int64]
    equity: FloatArray
    cash: FloatArray
    fills: list[Fill]
    trades: dict[str, Trades]
    positions: dict[str, Position]
    init_cash: float
    commission: float
    expiries: list[OptionExpiry] = field(default_factory=list)
    margin_calls: list[MarginCall] = field(default_factory=list)

    @property
    def final_value(self) -> float:
        """Equity after the last bar."""
        return float(self.equity[-1])

    @property
    def total_return(self) -> float:
        """``final_value / init_cash - 1`` as a fraction."""
        return float(self.equity[-1] / self.init_cash - 1.0)


# --- the engine --------------------------------------------------------------------------------


BarsInput = Sequence[Bar] | Mapping[str, NDArray[Any]]


def run_events(
    bars: BarsInput,
    strategy: Strategy,
    *,
    init_cash: float = 100.0,
    instruments: Iterable[InstrumentSpec] | None = None,
    commission: CommissionModel | None = None,
    slippage: Slippage | None = None,
    fill_at: Literal["close", "next_open"] = "close",
) -> EventResult:
    """Replay ``bars`` through ``strategy`` and return the ledger.

    ``bars``: a sequence of ``Bar`` in time order (timestamps non-decreasing overall, strictly
    increasing per symbol), or a mapping symbol -> structured array of ``BAR_DTYPE``. With
    ``instruments`` given, every bar's symbol must be one of them; otherwise each symbol is an
    equity with ``commission`` / ``slippage`` (defaults: none). Raises ``BacktestInputError``
    naming the problem for empty data, out-of-order timestamps, NaN/non-positive prices,
    negative volume or unknown symbols, before any bar is processed.
    """
    if fill_at not in ("close", "next_open"):
        raise BacktestInputError(f"fill_at must be 'close' or 'next_open', got {fill_at!r}")
    cols = _columns(bars)
    specs = _instrument_specs(cols[0], instruments, commission, slippage)
    symbols = [s.symbol for s in specs]  # bar symbols, then options without bars
    _check_options(specs, len(cols[0]))
    engine = _Engine(
        (symbols, *cols[1:]), specs, check_positive(init_cash, "init_cash"), fill_at == "close"
    )
    return engine.run(strategy)


def _columns(
    bars: BarsInput,
) -> tuple[list[str], NDArray[np.int64], NDArray[np.int64], list[FloatArray]]:
    """(symbols, symbol id per bar, ts, [open, high, low, close, volume]) after validation."""
    if isinstance(bars, Mapping):
        if not bars:
            raise BacktestInputError("bars is empty: no symbols given")
        symbols = list(bars)
        parts = []
        for k, sym in enumerate(symbols):
            arr = np.asarray(bars[sym])
            if arr.dtype.names is None or not set(BAR_DTYPE.names or ()) <= set(arr.dtype.names):
                raise BacktestInputError(
                    f"bars[{sym!r}] must be a structured array with fields {BAR_DTYPE.names}"
                )
            if arr.shape[0] == 0:
                raise BacktestInputError(f"bars[{sym!r}] is empty")
            _check_increasing(arr["ts"].astype(np.int64), f"bars[{sym!r}]", strict=True)
            parts.append((arr, np.full(arr.shape[0], k, dtype=np.int64)))
        ts = np.concatenate([p[0]["ts"].astype(np.int64) for p in parts])
        order = np.argsort(ts, kind="stable")
        ts = ts[order]
        sid = np.concatenate([p[1] for p in parts])[order]
        fields = [
            np.concatenate([p[0][f].astype(np.float64) for p in parts])[order]
            for f in ("open", "high", "low", "close", "volume")
        ]
    else:
        if len(bars) == 0:
            raise BacktestInputError("bars is empty: a backtest needs at least one bar")
        symbols = []
        ids: dict[str, int] = {}
        sid_list = []
        for b in bars:
            found = ids.get(b.symbol)
            if found is None:
                found = ids[b.symbol] = len(symbols)
                symbols.append(b.symbol)
            sid_list.append(found)
        sid = np.asarray(sid_list, dtype=np.int64)
        ts = np.fromiter((b.ts for b in bars), dtype=np.int64, count=len(bars))
        fields = [
            np.fromiter((getattr(b, f) for b in bars), dtype=np.float64, count=len(bars))
            for f in ("open", "high", "low", "close", "volume")
        ]
        _check_increasing(ts, "bars", strict=False)
        for k, sym in enumerate(symbols):
            _check_increasing(ts[sid == k], f"bars of {sym!r}", strict=True)
    for name, col in zip(("open", "high", "low", "close"), fields[:4], strict=True):
        bad = ~np.isfinite(col) | (col <= 0)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise BacktestInputError(
                f"bar {i} ({symbols[sid[i]]!r}) has {name}={float(col[i])!r}: prices must be "
                "finite and > 0; drop or fill such bars before backtesting"
            )
    vol = fields[4]
    bad = ~np.isfinite(vol) | (vol < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BacktestInputError(
            f"bar {i} ({symbols[sid[i]]!r}) has volume={float(vol[i])!r}; must be >= 0"
        )
    bad = fields[2] > fields[1]
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise BacktestInputError(f"bar {i} ({symbols[sid[i]]!r}) has low > high")
    return symbols, sid, ts, fields


def _check_increasing(ts: NDArray[np.int64], name: str, *, strict: bool) -> None:
    d = np.diff(ts)
    bad = d <= 0 if strict else d < 0
    if bad.any():
        i = int(np.flatnonzero(bad)[0]) + 1
        rule = "strictly increasing (no duplicates)" if strict else "non-decreasing"
        raise BacktestInputError(
            f"{name}: timestamps must be {rule}; position {i} has ts={int(ts[i])} after "
            f"{int(ts[i - 1])}. Sort the bars by time and drop duplicates"
        )


def _instrument_specs(
    symbols: list[str],
    instruments: Iterable[InstrumentSpec] | None,
    commission: CommissionModel | None,
    slippage: Slippage | None,
) -> list[InstrumentSpec]:
    if instruments is None:
        return [
            InstrumentSpec(
                s, commission=commission or Commission(), slippage=slippage or Slippage()
            )
            for s in symbols
        ]
    by_symbol = {i.symbol: i for i in instruments}
    missing = [s for s in symbols if s not in by_symbol]
    if missing:
        raise BacktestInputError(
            f"unknown symbol(s) {missing} in bars: not among instruments {sorted(by_symbol)}"
        )
    if commission is not None or slippage is not None:
        raise BacktestInputError(
            "pass commission/slippage on each InstrumentSpec when instruments are given"
        )
    # Options need no bars of their own (they are then model priced): they join after the bars.
    quoteless = [i for s, i in by_symbol.items() if i.kind == "option" and s not in symbols]
    return [by_symbol[s] for s in symbols] + quoteless


def _check_options(specs: list[InstrumentSpec], n_with_bars: int) -> None:
    """Options need an underlying with bars (equity/crypto for physical delivery) and, when they
    have no bars themselves, a ``pricing_vol``."""
    by_symbol = {s.symbol: (k, s) for k, s in enumerate(specs)}
    for k, spec in enumerate(specs):
        if spec.kind != "option":
            continue
        found = by_symbol.get(spec.underlying)
        if found is None or found[0] >= n_with_bars:
            raise BacktestInputError(
                f"option {spec.symbol!r}: underlying {spec.underlying!r} has no bars; "
                "pass the underlying's bars and an InstrumentSpec for it"
            )
        under = found[1]
        allowed = (
            ("equity", "crypto")
            if spec.settlement == "physical"
            else ("equity", "crypto", "future")
        )
        if under.kind not in allowed:
            raise BacktestInputError(
                f"option {spec.symbol!r}: {spec.settlement} settlement on a {under.kind} "
                f"underlying is not supported; use an underlying of kind {' or '.join(allowed)}"
                + (" or settlement='cash'" if spec.settlement == "physical" else "")
            )
        if k >= n_with_bars and spec.pricing_vol is None:
            raise BacktestInputError(
                f"option {spec.symbol!r} has no bars: set pricing_vol on its InstrumentSpec so "
                "it can be priced with the BSM/BAW model, or pass its bars"
            )


class _Engine:
    def __init__(
        self,
        cols: tuple[list[str], NDArray[np.int64], NDArray[np.int64], list[FloatArray]],
        specs: list[InstrumentSpec],
        init_cash: float,
        fill_on_close: bool,
    ) -> None:
        self.symbols, self.sid, self.ts, self.fields = cols
        self._ids = {s: k for k, s in enumerate(self.symbols)}
        self.specs = specs
        self.init_cash = init_cash
        self.cash = init_cash
        self.fill_on_close = fill_on_close
        self.positions = [Position() for _ in specs]
        self.marks = [0.0] * len(specs)
        self.last_px = [math.nan] * len(specs)
        self.pending: list[list[Order]] = [[] for _ in specs]
        self.n_pending = 0
        self.fills: list[Fill] = []
        self.commission_paid = 0.0
        self.model_marks: dict[str, tuple[int, float]] = {}
        self.is_future = [s.kind == "future" for s in specs]
        self.is_fx = [s.kind == "fx" for s in specs]
        # USD-based pairs (USDJPY) have P&L in the quote currency: divide by the rate.
        self.fx_inverse = [s.kind == "fx" and s.fx_pair[1] != ACCOUNT_CURRENCY for s in specs]
        # Options: underlying id, model-priced (no bars) flag, per-underlying lists of the
        # model-priced options to fill and mark on its bars, and the next expiry to process.
        n_bars_syms = int(self.sid.max()) + 1
        self.under_of = [self._ids[s.underlying] if s.kind == "option" else -1 for s in specs]
        self.model_priced = [k >= n_bars_syms for k in range(len(specs))]
        self.models_of: list[list[int]] = [[] for _ in specs]
        for k, u in enumerate(self.under_of):
            if self.model_priced[k]:
                self.models_of[u].append(k)
        self.any_model = any(self.model_priced)
        self.expired = [False] * len(specs)
        self.expiries: list[OptionExpiry] = []
        self.next_expiry_index = 0  # first bar with ts >= the next live expiry
        self.margin_calls: list[MarginCall] = []
        self.futures_ids = [k for k, s in enumerate(specs) if s.kind == "future"]
        self._update_next_expiry()

    def symbol_id(self, symbol: str) -> int:
        k = self._ids.get(symbol)
        if k is None:
            raise BacktestInputError(
                f"unknown symbol {symbol!r}: the backtest has bars for {self.symbols}"
            )
        return k

    def cancel(self, k: int) -> None:
        self.n_pending -= len(self.pending[k])
        self.pending[k] = []

    def equity_now(self) -> float:
        return self.cash + sum(self.marks)

    def run(self, strategy: Strategy) -> EventResult:
        n = self.ts.shape[0]
        ctx = Context(self)
        on_bar = strategy.on_bar
        on_fill = getattr(strategy, "on_fill", None)
        opens, highs, lows, closes, vols = (f.tolist() for f in self.fields)
        sids = self.sid.tolist()
        tss = self.ts.tolist()
        symbols = self.symbols
        equity = np.empty(n)
        cash_out = np.empty(n)
        positions = self.positions
        marks = self.marks
        last_px = self.last_px
        mults = [s.multiplier for s in self.specs]
        futures = self.is_future
        any_future = any(futures)
        fx = self.is_fx
        day_of = [-1] * len(self.specs)
        new_orders = ctx.new_orders
        single = len(symbols) == 1
        any_model = self.any_model
        models_of = self.models_of
        next_expiry = self.next_expiry_index
        nf = 0
        bars = starmap(
            Bar, zip((symbols[k] for k in sids), tss, opens, highs, lows, closes, vols, strict=True)
        )
        for i, bar in enumerate(bars):
            k = sids[i]
            c = closes[i]
            if i >= next_expiry:
                self._expire_options(i, tss[i])
                next_expiry = self.next_expiry_index
            if self.n_pending and self.pending[k]:
                self._fill_pending(i, k)
            models = any_model and models_of[k]
            if models and self.n_pending:
                self._fill_model_pending(i, models)
            if any_future and futures[k]:
                day = tss[i] // NS_PER_DAY
                if day != day_of[k]:
                    if day_of[k] >= 0:
                        self._settle(k)
                        self._check_margin(i, k)
                    day_of[k] = day
            last_px[k] = c
            ctx.bar_index = i
            on_bar(bar, ctx)
            if new_orders:
                self._accept(i, k, new_orders)
                new_orders.clear()
            pos = positions[k]
            q = pos.qty
            if q:
                if futures[k]:
                    marks[k] = q * mults[k] * (c - pos.settle_price)
                elif fx[k]:
                    marks[k] = self._fx_mark(k)
                else:
                    marks[k] = q * c * mults[k]
            else:
                marks[k] = 0.0
            if models:
                self._mark_models(i, models, c)
            cash = self.cash
            equity[i] = cash + (marks[0] if single else sum(marks))
            cash_out[i] = cash
            if on_fill is not None and len(self.fills) > nf:
                for fill in self.fills[nf:]:
                    on_fill(fill, ctx)
                nf = len(self.fills)
        return EventResult(
            ts=self.ts,
            symbols=tuple(symbols),
            symbol_index=self.sid,
            equity=equity,
            cash=cash_out,
            fills=self.fills,
            trades=_round_trips(self.fills, symbols, closes, sids, n, self.model_marks),
            positions=dict(zip(symbols, positions, strict=True)),
            init_cash=self.init_cash,
            commission=self.commission_paid,
            expiries=self.expiries,
            margin_calls=self.margin_calls,
        )

    def _accept(self, i: int, k_bar: int, orders: list[Order]) -> None:
        for order in orders:
            k = self._ids[order.symbol]
            if self.expired[k]:
                continue  # orders for an expired option are dropped
            now = order.limit is None and self.fill_on_close and self.fields[4][i] > 0
            if now and k == k_bar:
                self._execute(i, k, order, self.fields[3][i], maker=False)
            elif now and self.model_priced[k] and self.under_of[k] == k_bar:
                ref = self._model_ref(i, k, self.fields[3][i])
                self._execute(i, k, order, ref, maker=False)
            else:
                self.pending[k].append(order)
                self.n_pending += 1

    def _fill_pending(self, i: int, k: int) -> None:
        volume = self.fields[4][i]
        if volume <= 0:
            return  # no fills on zero-volume bars; orders wait for the next traded bar
        o = self.fields[0][i]
        keep = []
        for order in self.pending[k]:
            lim = order.limit
            if lim is None:
                self._execute(i, k, order, o, maker=False)
                continue
            if order.placed_index >= i:
                keep.append(order)
                continue
            buying = order.qty > 0 or (order.target_percent or 0) > 0
            if buying:
                price = o if o <= lim else (lim if self.fields[2][i] <= lim else math.nan)
            else:
                price = o if o >= lim else (lim if self.fields[1][i] >= lim else math.nan)
            if price == price:
                self._execute(i, k, order, price, maker=True)
            else:
                keep.append(order)
        self.n_pending -= len(self.pending[k]) - len(keep)
        self.pending[k] = keep

    # --- options -------------------------------------------------------------------------------

    def _update_next_expiry(self) -> None:
        live = [
            s.expiry for k, s in enumerate(self.specs) if s.kind == "option" and not self.expired[k]
        ]
        # Index of the first bar at/after the next live expiry (len(ts) when there is none).
        self.next_expiry_index = (
            int(np.searchsorted(self.ts, min(live), side="left")) if live else len(self.ts)
        )

    def _model_ref(self, i: int, k: int, spot: float) -> float:
        """Model price of option ``k`` at bar ``i``'s ts with the underlying at ``spot``; kept as
        the option's last price (its mark and the exit price of an open trade)."""
        spec = self.specs[k]
        price = model_price(
            spec.option_type,
            spec.exercise,
            spot,
            spec.strike,
            year_fraction(int(self.ts[i]), spec.expiry),
            spec.rate,
            spec.rate if spec.carry is None else spec.carry,
            spec.pricing_vol or 0.0,
        )
        self.last_px[k] = price
        self.model_marks[self.symbols[k]] = (i, price)
        return price

    def _fill_model_pending(self, i: int, models: list[int]) -> None:
        """Pending market orders of model-priced options fill at the model price on the open of
        their underlying's bar (when it traded)."""
        if self.fields[4][i] <= 0:
            return
        for k in models:
            orders = self.pending[k]
            if not orders:
                continue
            ref = self._model_ref(i, k, self.fields[0][i])
            self.cancel(k)
            for order in orders:
                self._execute(i, k, order, ref, maker=False)

    def _mark_models(self, i: int, models: list[int], close: float) -> None:
        for k in models:
            pos = self.positions[k]
            if pos.qty:
                self.marks[k] = pos.qty * self.specs[k].multiplier * self._model_ref(i, k, close)

    def _expire_options(self, i: int, ts: int) -> None:
        """Settle every live option with ``expiry <= ts`` at its underlying's last close."""
        for k, spec in enumerate(self.specs):
            if spec.kind == "option" and not self.expired[k] and spec.expiry <= ts:
                self.expired[k] = True
                self.cancel(k)
                if self.positions[k].qty:
                    self._settle_option(i, k)
        self._update_next_expiry()

    def _settle_option(self, i: int, k: int) -> None:
        spec = self.specs[k]
        pos = self.positions[k]
        u = self.under_of[k]
        spot = self.last_px[u]
        if spot != spot:
            raise BacktestInputError(
                f"option {spec.symbol!r} expired before its underlying {spec.underlying!r} had a "
                "bar, so it cannot be settled; start the underlying's bars before the expiry"
            )
        qty = pos.qty
        mult = spec.multiplier
        intrinsic = intrinsic_value(spec.option_type, spot, spec.strike)
        ts = int(self.ts[i])
        cash_before = self.cash
        action: Literal["exercised", "assigned", "expired"]
        if intrinsic <= 0.0:
            action = "expired"
            exit_px = 0.0
        else:
            action = "exercised" if qty > 0 else "assigned"
            # Physical: the option is consumed (exit at 0) and the underlying changes hands at
            # the strike; cash: the option closes at its intrinsic value.
            exit_px = intrinsic if spec.settlement == "cash" else 0.0
        self.cash += qty * exit_px * mult
        self._book(pos, -qty, exit_px, mult)
        self.marks[k] = 0.0
        self.fills.append(Fill(i, ts, spec.symbol, -qty, exit_px, 0.0, False))
        if intrinsic > 0.0 and spec.settlement == "physical":
            under = self.specs[u]
            direction = 1.0 if spec.option_type == "call" else -1.0
            delivered = direction * qty * mult / under.multiplier
            upos = self.positions[u]
            self.cash -= delivered * spec.strike * under.multiplier
            self._book(upos, delivered, spec.strike, under.multiplier)
            self.marks[u] = upos.qty * spot * under.multiplier
            self.fills.append(Fill(i, ts, spec.underlying, delivered, spec.strike, 0.0, False))
        self.expiries.append(
            OptionExpiry(i, ts, spec.symbol, qty, spot, intrinsic, action, self.cash - cash_before)
        )

    def _settle(self, k: int) -> None:
        """Daily variation margin of a futures position at the previous bar's close."""
        pos = self.positions[k]
        settle = self.last_px[k]
        if pos.qty:
            self.cash += pos.qty * self.specs[k].multiplier * (settle - pos.settle_price)
        pos.settle_price = settle
        self.marks[k] = 0.0

    def _maintenance_requirement(self) -> float:
        total = 0.0
        for j in self.futures_ids:
            q = self.positions[j].qty
            if q:
                spec = self.specs[j]
                total += abs(q) * spec.multiplier * self.last_px[j] * spec.maintenance
        return total

    def _check_margin(self, i: int, k: int) -> None:
        """Margin call after settling contract ``k``: liquidate whole futures positions (``k``
        first, then instrument order) at their last close until cash covers the maintenance
        requirement of what stays open."""
        requirement = self._maintenance_requirement()
        cash = self.cash
        if requirement <= 0.0 or cash >= requirement:
            return
        closed = []
        for j in [k, *(j for j in self.futures_ids if j != k)]:
            if self.cash >= self._maintenance_requirement():
                break
            q = self.positions[j].qty
            if q and self.specs[j].maintenance > 0.0:
                self.cancel(j)
                self._fill(i, j, -q, self.last_px[j], False)
                closed.append(self.symbols[j])
        self.margin_calls.append(
            MarginCall(
                i, int(self.ts[i]), self.symbols[k], cash, requirement, tuple(closed), self.cash
            )
        )

    def _execute(self, i: int, k: int, order: Order, ref: float, *, maker: bool) -> None:
        pos = self.positions[k]
        if order.target_percent is not None:
            target = order.target_percent
            if pos.qty and (target == 0 or (target > 0) != (pos.qty > 0)):
                # Close first, so a reversal is sized from the cash left after the exit.
                self._fill(i, k, -pos.qty, ref, maker)
            if target == 0:
                return
            qty = self._target_qty(k, target, ref, maker)
        else:
            qty = order.qty
        if qty:
            self._fill(i, k, qty, ref, maker)

    def _target_qty(self, k: int, target: float, ref: float, maker: bool) -> float:
        spec = self.specs[k]
        pos = self.positions[k]
        slip = spec.slippage
        price = (
            ref
            if maker
            else (
                ref * (1.0 + slip.fraction) + slip.per_unit
                if target > 0
                else ref * (1.0 - slip.fraction) - slip.per_unit
            )
        )
        rate = spec.commission.rate(maker)
        budget = target * self.equity_now() if pos.qty else target * self.cash
        if spec.kind == "future":
            want = budget / (1.0 + rate) / (price * spec.multiplier)
        elif spec.kind == "fx":
            want = budget / (1.0 + rate) / (price * spec.multiplier * self._usd_per_quote(k, price))
        elif spec.kind == "option":
            want = budget / (1.0 + rate) / (price * spec.multiplier)
        else:
            want = budget / (1.0 + rate) / price
        return want - pos.qty

    def _fill(self, i: int, k: int, qty: float, ref: float, maker: bool) -> None:
        spec = self.specs[k]
        pos = self.positions[k]
        mult = spec.multiplier
        if maker:
            price = ref
        elif qty > 0:
            price = ref * (1.0 + spec.slippage.fraction) + spec.slippage.per_unit
        else:
            price = max(ref * (1.0 - spec.slippage.fraction) - spec.slippage.per_unit, 0.0)
        if spec.lot_size > 0:
            lots = math.floor(abs(qty) / spec.lot_size + 1e-9)
            qty = math.copysign(lots * spec.lot_size, qty)
            if qty == 0:
                return
        future = spec.kind == "future"
        fx = spec.kind == "fx"
        usd = self._usd_per_quote(k, price) if fx else 1.0
        opening = pos.qty == 0 or (qty > 0) == (pos.qty > 0)
        if qty > 0 and not (future or fx):
            # Cash-settled buys are cut to what the cash covers, fees included.
            cost = qty * price
            fee = spec.commission.fee(qty, cost * mult, maker)
            if cost * mult + fee > self.cash * (1 + 1e-12):
                rate = spec.commission.rate(maker)
                qty = max(self.cash / (1.0 + rate) / (price * mult), 0.0)
                if spec.lot_size > 0:
                    qty = math.floor(qty / spec.lot_size) * spec.lot_size
                if qty <= 0:
                    return
        notional = abs(qty) * price * mult * usd
        fee = spec.commission.fee(abs(qty), notional, maker)
        if (future or fx) and opening:
            need = spec.margin * abs(pos.qty + qty) * price * mult * usd
            if need > self.equity_now() - fee:
                return  # not enough equity for the initial margin: the order is rejected
        if future:
            # Variation on the existing position up to the fill price, then the whole position
            # is marked from the fill price (economically the same as per-lot settlement).
            if pos.qty:
                self.cash += pos.qty * mult * (price - pos.settle_price)
            pos.settle_price = price
            self.cash -= fee
            self._book(pos, qty, price, mult)
        elif fx:
            # Only realized P&L (booked in USD via the conversion factor) and fees move cash.
            realized = pos.realized_pnl
            self._book(pos, qty, price, mult * usd)
            self.cash += pos.realized_pnl - realized - fee
        else:
            self.cash -= qty * price * mult + fee
            self._book(pos, qty, price, mult)
        self.commission_paid += fee
        if future or not pos.qty:
            self.marks[k] = 0.0
        elif fx:
            self.marks[k] = self._fx_mark(k)
        else:
            self.marks[k] = pos.qty * self.last_px[k] * mult
        self.fills.append(Fill(i, int(self.ts[i]), self.symbols[k], qty, price, fee, maker))

    def _usd_per_quote(self, k: int, fallback: float) -> float:
        """USD per unit of an FX pair's quote currency: 1, or 1 / the pair's last close (the
        ``fallback`` rate before the pair's first bar)."""
        if not self.fx_inverse[k]:
            return 1.0
        rate = self.last_px[k]
        return 1.0 / (rate if rate == rate else fallback)

    def _fx_mark(self, k: int) -> float:
        """Unrealized P&L in USD of an FX position at the pair's last close."""
        pos = self.positions[k]
        close = self.last_px[k]
        pnl = pos.qty * self.specs[k].multiplier * (close - pos.avg_price)
        return pnl / close if self.fx_inverse[k] else pnl

    @staticmethod
    def _book(pos: Position, qty: float, price: float, mult: float) -> None:
        old = pos.qty
        new = old + qty
        if old == 0 or (old > 0) == (qty > 0):
            pos.avg_price = (pos.avg_price * abs(old) + price * abs(qty)) / abs(new)
        else:
            closed = min(abs(qty), abs(old))
            pos.realized_pnl += closed * (price - pos.avg_price) * mult * (1 if old > 0 else -1)
            if abs(qty) > abs(old):
                pos.avg_price = price
            elif abs(new) <= 1e-12 * abs(old):
                new = 0.0
                pos.avg_price = 0.0
        pos.qty = new


def _round_trips(
    fills: list[Fill],
    symbols: list[str],
    closes: list[float],
    sids: list[int],
    n: int,
    model_marks: Mapping[str, tuple[int, float]],
) -> dict[str, Trades]:
    """Flat-to-flat round trips per symbol (average entry and exit prices); trades still open
    are valued at the symbol's last close (``model_marks``: last model price of options
    without bars)."""
    last_close: dict[str, tuple[int, float]] = dict(model_marks)
    for i in range(n - 1, -1, -1):
        sym = symbols[sids[i]]
        if sym not in last_close:
            last_close[sym] = (i, closes[i])
        if len(last_close) == len(symbols):
            break
    rows: dict[str, list[tuple[Any, ...]]] = {s: [] for s in symbols}
    open_: dict[str, list[Any]] = {}
    for f in fills:
        cur = open_.get(f.symbol)
        if cur is None:
            # [entry idx, direction, qty, entry value, entry fees, exit qty, exit value, exit fees]
            open_[f.symbol] = [
                f.bar_index,
                1 if f.qty > 0 else -1,
                abs(f.qty),
                abs(f.qty) * f.price,
                f.commission,
                0.0,
                0.0,
                0.0,
            ]
            continue
        same = (f.qty > 0) == (cur[1] > 0)
        if same:
            cur[2] += abs(f.qty)
            cur[3] += abs(f.qty) * f.price
            cur[4] += f.commission
        else:
            cur[5] += abs(f.qty)
            cur[6] += abs(f.qty) * f.price
            cur[7] += f.commission
            if cur[5] >= cur[2] * (1 - 1e-12):
                rows[f.symbol].append((cur[0], f.bar_index, cur, False))
                del open_[f.symbol]
    for sym, cur in open_.items():
        i, px = last_close[sym]
        remaining = cur[2] - cur[5]
        cur[5] += remaining
        cur[6] += remaining * px
        rows[sym].append((cur[0], i, cur, True))
    out = {}
    for sym, recs in rows.items():
        size = np.array([r[2][2] for r in recs])
        entry_px = np.array([r[2][3] / r[2][2] for r in recs])
        exit_px = np.array([r[2][6] / r[2][5] for r in recs])
        direction = np.array([r[2][1] for r in recs], dtype=np.int8)
        entry_fees = np.array([r[2][4] for r in recs])
        exit_fees = np.array([r[2][7] for r in recs])
        entry_val = size * entry_px
        diff = (size * exit_px - entry_val) * direction
        pnl = diff - entry_fees - exit_fees
        out[sym] = Trades(
            entry_index=np.array([r[0] for r in recs], dtype=np.int64),
            exit_index=np.array([r[1] for r in recs], dtype=np.int64),
            entry_price=entry_px,
            exit_price=exit_px,
            size=size,
            entry_fees=entry_fees,
            exit_fees=exit_fees,
            pnl=pnl,
            returns=pnl / entry_val if len(recs) else np.zeros(0),
            direction=direction,
            is_open=np.array([r[3] for r in recs], dtype=np.bool_),
        )
    return out
