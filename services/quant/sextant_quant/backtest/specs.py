"""Strategy specs: small frozen dataclasses that turn a close-price series into target positions.

A spec is engine-agnostic: ``target_positions(close)`` gives the vectorized engine its input, and
the event-driven engine runs the same rule bar by bar (``event.SpecStrategy``). Targets are
-1 (short all-in), 0 (flat) or +1 (long all-in); shorts only when ``allow_short`` is set.

The command-bar text form (``parse_spec`` / ``parse_command``):

* ``50SMA.200EMA`` or ``SMA50.EMA200``: moving-average cross, fast kind and window before the dot;
  ``SMA(50,200)`` / ``EMA(12,26)``: both the same kind.
* ``MOM(126)``: time-series momentum over 126 bars.
* ``MR(20,2,0.5)``: mean reversion, window 20, enter at |z| >= 2, exit at |z| <= 0.5.
* ``BH`` or ``BUYHOLD``: buy and hold.

A trailing ``/LS`` (``50SMA.200EMA/LS``) allows shorts; a trailing ``/REG``
(``50SMA.200EMA/REG``, ``MOM(126)/LS/REG``) wraps the strategy in ``RegimeFiltered`` with its
defaults (3-state HMM, hold only in "bull" and "sideways").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
from numba import njit
from numpy.typing import ArrayLike, NDArray

from ._validate import (
    BacktestInputError,
    FloatArray,
    check_finite,
    check_prices,
    check_window,
)
from .indicators import MA_KINDS, MaKind, crossed_above, moving_average

Int8Array = NDArray[np.int8]


@dataclass(frozen=True)
class MaCross:
    """Long when the fast MA crosses above the slow MA; flat (or short) when it crosses below.

    Windows are in bars. ``fast`` must be < ``slow``. Before the first cross the strategy is flat:
    a cross needs a prior state on the other side (vectorbt's rule), so a fast MA that starts
    above the slow one does not trigger an entry.
    """

    fast: int
    slow: int
    fast_kind: MaKind = "SMA"
    slow_kind: MaKind = "SMA"
    allow_short: bool = False

    def __post_init__(self) -> None:
        check_window(self.fast, "fast")
        check_window(self.slow, "slow")
        for name in ("fast_kind", "slow_kind"):
            if getattr(self, name) not in MA_KINDS:
                raise BacktestInputError(
                    f"{name} must be one of {', '.join(MA_KINDS)}, got {getattr(self, name)!r}"
                )
        if self.fast >= self.slow:
            raise BacktestInputError(
                f"fast must be < slow (fast={self.fast}, slow={self.slow}); swap them"
            )

    @property
    def warmup(self) -> int:
        """Bars before the first possible signal."""
        return self.slow - 1

    def signals(self, close: ArrayLike) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        """``(entries, exits)``: bars where the fast MA crosses above / below the slow MA."""
        px = check_prices(close)
        fast = moving_average(px, self.fast, self.fast_kind)
        slow = moving_average(px, self.slow, self.slow_kind)
        return crossed_above(fast, slow), crossed_above(slow, fast)

    def target_positions(self, close: ArrayLike) -> Int8Array:
        """+1 from a cross above until the next cross below, then 0 (-1 with ``allow_short``)."""
        entries, exits = self.signals(close)
        return _hold_between(entries, exits, -1 if self.allow_short else 0)

    def __str__(self) -> str:
        text = f"{self.fast}{self.fast_kind}.{self.slow}{self.slow_kind}"
        return text + ("/LS" if self.allow_short else "")


@dataclass(frozen=True)
class SmaCross(MaCross):
    """Fast SMA over slow SMA (``SmaCross(50, 200)``)."""

    fast_kind: MaKind = field(default="SMA", init=False)
    slow_kind: MaKind = field(default="SMA", init=False)


@dataclass(frozen=True)
class EmaCross(MaCross):
    """Fast EMA over slow EMA (``EmaCross(12, 26)``)."""

    fast_kind: MaKind = field(default="EMA", init=False)
    slow_kind: MaKind = field(default="EMA", init=False)


@dataclass(frozen=True)
class Momentum:
    """Long while the ``lookback``-bar return ``close[t] / close[t - lookback] - 1`` is > 0.

    Flat (or short with ``allow_short``) while it is < 0; unchanged when exactly 0; flat during
    the first ``lookback`` bars.
    """

    lookback: int
    allow_short: bool = False

    def __post_init__(self) -> None:
        check_window(self.lookback, "lookback")

    @property
    def warmup(self) -> int:
        """Bars before the first possible signal."""
        return self.lookback

    def target_positions(self, close: ArrayLike) -> Int8Array:
        """Target per bar from the sign of the trailing ``lookback``-bar return."""
        px = check_prices(close)
        k = self.lookback
        entries = np.zeros(px.shape[0], dtype=np.bool_)
        exits = np.zeros(px.shape[0], dtype=np.bool_)
        entries[k:] = px[k:] > px[:-k]
        exits[k:] = px[k:] < px[:-k]
        return _hold_between(entries, exits, -1 if self.allow_short else 0)

    def __str__(self) -> str:
        return f"MOM({self.lookback})" + ("/LS" if self.allow_short else "")


@dataclass(frozen=True)
class MeanReversion:
    """Z-score mean reversion on ``z = (close - SMA(window)) / std(window)`` (sample std, ddof=1).

    Enter long when ``z <= -z_entry`` and exit when ``z >= -z_exit``; with ``allow_short`` also
    enter short when ``z >= z_entry`` and exit when ``z <= z_exit``. Requires
    ``window >= 2`` and ``z_entry > z_exit >= 0``.
    """

    window: int
    z_entry: float = 2.0
    z_exit: float = 0.0
    allow_short: bool = False

    def __post_init__(self) -> None:
        check_window(self.window, "window")
        if self.window < 2:
            raise BacktestInputError(
                f"window must be >= 2 for a standard deviation, got {self.window}"
            )
        entry = check_finite(self.z_entry, "z_entry")
        exit_ = check_finite(self.z_exit, "z_exit")
        if exit_ < 0:
            raise BacktestInputError(f"z_exit must be >= 0, got {self.z_exit!r}")
        if entry <= exit_:
            raise BacktestInputError(
                f"z_entry must be > z_exit (z_entry={self.z_entry!r}, z_exit={self.z_exit!r})"
            )

    @property
    def warmup(self) -> int:
        """Bars before the first possible signal."""
        return self.window - 1

    def zscore(self, close: ArrayLike) -> FloatArray:
        """Rolling z-score (NaN during warm-up and where the rolling std is 0)."""
        px = check_prices(close)
        return _zscore_nb(px, self.window)

    def target_positions(self, close: ArrayLike) -> Int8Array:
        """Path-dependent entry/exit state machine over the z-score."""
        out: Int8Array = _mean_reversion_nb(
            self.zscore(close), float(self.z_entry), float(self.z_exit), self.allow_short
        )
        return out

    def __str__(self) -> str:
        text = f"MR({self.window},{self.z_entry:g},{self.z_exit:g})"
        return text + ("/LS" if self.allow_short else "")


@dataclass(frozen=True)
class BuyAndHold:
    """Long all-in from the first bar to the last."""

    allow_short: ClassVar[bool] = False
    warmup: ClassVar[int] = 0

    def target_positions(self, close: ArrayLike) -> Int8Array:
        """+1 on every bar."""
        px = check_prices(close)
        return np.ones(px.shape[0], dtype=np.int8)

    def __str__(self) -> str:
        return "BH"


@dataclass(frozen=True)
class RegimeFiltered:
    """Hold ``inner``'s target only while the causal HMM regime at each bar is in ``allowed``.

    The regime at bar t is the most probable state of ``sextant_quant.regimes``'
    ``fit_hmm_regimes(...).filter(returns)``: the forward recursion, which uses returns up to t
    only, over [simple return, ``vol_window``-bar realized vol] of the close series. Bars before
    the first full vol window have no regime and are flat. States carry the fitted model's names
    (``sextant_quant.regimes.labels``): "bear" < "sideways" < "bull" (for 3) only when the fit
    sample's model and realized returns order them so, else by volatility ("low-vol" <
    "mid-vol" < "high-vol"); ``allowed`` names that the fit did not use are an error saying why.

    Look-ahead: the filter is causal but the HMM *parameters* are estimated on the fit sample.
    With ``fit_until=None`` that is the whole series, a mild look-ahead in parameters (fine for
    research, not for an out-of-sample claim). ``fit_until=m`` fits on bars ``[0, m)`` only and
    filters forward from there, so the position at any bar t >= m - 1 depends on
    ``close[: t + 1]`` alone (bars before m still use parameters fitted on data up to m - 1).

    ``periods_per_year`` annualizes the realized vol (close arrays carry no dates); ``n_init``
    and ``seed`` are the EM restarts (deterministic). Runs on ``run_spec`` (vectorized) only:
    the event engine's ``SpecStrategy`` refuses it because the HMM is fitted on a whole sample,
    not bar by bar.
    """

    inner: StrategySpec
    allowed: tuple[str, ...] = ("bull", "sideways")
    n_states: int = 3
    vol_window: int = 21
    fit_until: int | None = None
    periods_per_year: float = 252.0
    n_init: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        from sextant_quant.regimes.labels import STATE_LABELS, VOLATILITY_LABELS

        if isinstance(self.inner, RegimeFiltered):
            raise BacktestInputError("RegimeFiltered cannot wrap another RegimeFiltered")
        if self.n_states not in STATE_LABELS:
            raise BacktestInputError(f"n_states must be 2, 3 or 4, got {self.n_states!r}")
        by_return, by_vol = STATE_LABELS[self.n_states], VOLATILITY_LABELS[self.n_states]
        names = set(self.allowed)
        if not names or not (names <= set(by_return) or names <= set(by_vol)):
            raise BacktestInputError(
                f"allowed regimes {list(self.allowed)} must be a non-empty subset of "
                f"{list(by_return)} or of {list(by_vol)} for n_states={self.n_states}"
            )
        if self.vol_window < 2:
            raise BacktestInputError(f"vol_window must be >= 2, got {self.vol_window!r}")
        if self.fit_until is not None and self.fit_until < 2:
            raise BacktestInputError(f"fit_until must be >= 2 bars, got {self.fit_until!r}")

    @property
    def allow_short(self) -> bool:
        """Whether the inner strategy may go short."""
        return self.inner.allow_short

    @property
    def warmup(self) -> int:
        """Bars before the first possible signal (inner warm-up or the vol window)."""
        return max(self.inner.warmup, self.vol_window)

    def regimes(self, close: ArrayLike) -> NDArray[np.object_]:
        """Filtered regime label per bar ("" where there is none yet: the first ``vol_window``
        bars). Raises ``BacktestInputError`` when the fit sample is too short for the HMM."""
        import pandas as pd

        from sextant_quant.regimes import fit_hmm_regimes

        px = check_prices(close)
        n = px.shape[0]
        returns = pd.Series(px[1:] / px[:-1] - 1.0, index=pd.RangeIndex(1, n))
        sample = returns if self.fit_until is None else returns.iloc[: max(self.fit_until - 1, 0)]
        try:
            model = fit_hmm_regimes(
                sample,
                self.n_states,
                vol_window=self.vol_window,
                periods_per_year=self.periods_per_year,
                n_init=self.n_init,
                seed=self.seed,
            )
        except ValueError as exc:
            raise BacktestInputError(
                f"regime filter cannot fit its HMM on {len(sample)} returns: {exc}"
            ) from exc
        missing = [name for name in self.allowed if name not in model.labels]
        if missing:
            order = model.label_order
            raise BacktestInputError(
                f"the regime filter allows {list(self.allowed)}, but the {self.n_states}-state "
                f"HMM fitted here named its states {list(model.labels)} "
                f"({order.reason or 'named by ' + order.named_by}); allow some of those "
                "names, or use another number of states"
            )
        states = model.filter(returns).states
        out = np.full(n, "", dtype=object)
        out[states.index.to_numpy()] = states.astype(str).to_numpy()
        return out

    def target_positions(self, close: ArrayLike) -> Int8Array:
        """The inner targets where the bar's filtered regime is allowed, 0 elsewhere."""
        px = check_prices(close)
        inner = self.inner.target_positions(px)
        allowed = np.isin(self.regimes(px), list(self.allowed))
        return np.where(allowed, inner, 0).astype(np.int8)

    def __str__(self) -> str:
        return f"{self.inner}/REG"


StrategySpec = MaCross | Momentum | MeanReversion | BuyAndHold | RegimeFiltered


def _hold_between(entries: NDArray[np.bool_], exits: NDArray[np.bool_], off: int) -> Int8Array:
    """+1 from each entry until the next exit, ``off`` from each exit until the next entry."""
    n = entries.shape[0]
    idx = np.arange(n)
    last_entry = np.maximum.accumulate(np.where(entries, idx, -1))
    last_exit = np.maximum.accumulate(np.where(exits, idx, -1))
    out = np.zeros(n, dtype=np.int8)
    out[last_entry > last_exit] = 1
    if off:
        out[last_exit > last_entry] = off
    return out


@njit(cache=True)
def _zscore_nb(px: FloatArray, window: int) -> FloatArray:  # pragma: no cover - numba
    n = px.shape[0]
    out = np.full(n, np.nan)
    for i in range(window - 1, n):
        seg = px[i - window + 1 : i + 1]
        mean = seg.mean()
        var = ((seg - mean) ** 2).sum() / (window - 1)
        if var > 0.0:
            out[i] = (px[i] - mean) / np.sqrt(var)
    return out


@njit(cache=True)
def _mean_reversion_nb(
    z: FloatArray, z_entry: float, z_exit: float, allow_short: bool
) -> Int8Array:  # pragma: no cover - numba
    n = z.shape[0]
    out = np.zeros(n, dtype=np.int8)
    state = 0
    for i in range(n):
        zi = z[i]
        if not np.isnan(zi):
            if (state == 1 and zi >= -z_exit) or (state == -1 and zi <= z_exit):
                state = 0
            if state == 0:
                if zi <= -z_entry:
                    state = 1
                elif allow_short and zi >= z_entry:
                    state = -1
        out[i] = state
    return out


# --- text form -------------------------------------------------------------------------------

_MA_TOKEN = re.compile(r"^(?:(\d+)([A-Z]+)|([A-Z]+)(\d+))$")
_CALL = re.compile(r"^([A-Z]+)\((.*)\)$")
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9._:\-^=]{0,31}$")


def _any_case(word: str) -> str:
    """``word`` (letters, ``&`` and ``/``, none special in a regex) as a regex matching it in
    any letter case: JSON Schema patterns have no flags."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else c for c in word)


def _strategy_pattern() -> str:
    window = r"[1-9]\d{0,3}"
    ma = f"(?:{_any_case('SMA')}|{_any_case('EMA')})"
    z = r"\d{1,2}(?:\.\d{1,3})?"
    cross = f"(?:{window}{ma}|{ma}{window})\\.(?:{window}{ma}|{ma}{window})"
    call = (
        f"{ma}\\({window},{window}\\)"
        f"|{_any_case('MOM')}\\({window}\\)"
        f"|{_any_case('MR')}\\((?:[2-9]|[1-9]\\d{{1,3}})(?:,{z}(?:,{z})?)?\\)"
    )
    ls, reg = _any_case("/LS"), _any_case("/REG")
    hold = "|".join(_any_case(word) for word in ("BUY&HOLD", "BUYHOLD", "BH"))
    return f"^(?:(?:{hold})(?:{reg})?|(?:{cross}|{call})(?:{ls}(?:{reg})?|{reg}(?:{ls})?)?)$"


STRATEGY_PATTERN = _strategy_pattern()
"""The grammar of :func:`parse_spec` as a JSON Schema ``pattern`` (windows of 1 to 4 digits,
z-scores of up to 2 digits and 3 decimals). What it cannot say: a cross's fast window must be
below its slow one, and MR's exit z-score below its entry z-score."""


def parse_spec(text: str) -> StrategySpec:
    """Parse the command-bar form of a strategy (see the module docstring) into a spec.

    Case-insensitive. Raises ``BacktestInputError`` (a ``ValueError``) naming the bad token,
    e.g. ``unknown indicator 'SMMA' in '50SMMA'``, or the impossible parameter.
    """
    raw = text.strip().upper()
    if not raw:
        raise BacktestInputError("empty strategy: expected e.g. '50SMA.200EMA', 'MOM(126)' or 'BH'")
    raw, *modifiers = raw.split("/")
    for mod in modifiers:
        if mod not in ("LS", "REG") or modifiers.count(mod) > 1:
            raise BacktestInputError(
                f"bad modifier '/{mod}' in {text.strip()!r}; allowed once each: '/LS', '/REG'"
            )
    inner = _parse_plain(raw, text, "LS" in modifiers)
    return RegimeFiltered(inner) if "REG" in modifiers else inner


def _parse_plain(raw: str, text: str, allow_short: bool) -> StrategySpec:
    if raw in ("BH", "BUYHOLD", "BUY&HOLD"):
        if allow_short:
            raise BacktestInputError("'/LS' does not apply to buy-and-hold")
        return BuyAndHold()
    call = _CALL.match(raw)
    if call:
        return _parse_call(call.group(1), call.group(2), raw, allow_short)
    if "." in raw:
        parts = raw.split(".")
        if len(parts) != 2 or not all(parts):
            raise BacktestInputError(
                f"bad moving-average cross {text.strip()!r}: expected FAST.SLOW like '50SMA.200EMA'"
            )
        (fast, fast_kind), (slow, slow_kind) = (_parse_ma_token(p) for p in parts)
        return _ma_cross(fast, slow, fast_kind, slow_kind, allow_short)
    raise BacktestInputError(
        f"unknown strategy {text.strip()!r}: expected e.g. '50SMA.200EMA', 'SMA(50,200)', "
        "'MOM(126)', 'MR(20,2,0.5)' or 'BH'"
    )


def parse_command(text: str) -> tuple[str, StrategySpec]:
    """Parse ``BACKTEST <SYMBOL> <STRATEGY>`` into ``(symbol, spec)``; symbol upper-cased."""
    tokens = text.split()
    if not tokens or tokens[0].upper() != "BACKTEST":
        first = tokens[0] if tokens else ""
        raise BacktestInputError(f"expected the BACKTEST command, got {first!r}")
    if len(tokens) != 3:
        raise BacktestInputError(
            f"BACKTEST takes a symbol and a strategy (e.g. 'BACKTEST SPX 50SMA.200EMA'), "
            f"got {len(tokens) - 1} argument(s)"
        )
    symbol = tokens[1].upper()
    if not _SYMBOL.match(symbol):
        raise BacktestInputError(f"bad symbol {tokens[1]!r}")
    return symbol, parse_spec(tokens[2])


def _ma_cross(fast: int, slow: int, fast_kind: MaKind, slow_kind: MaKind, short: bool) -> MaCross:
    if fast_kind == slow_kind == "SMA":
        return SmaCross(fast, slow, allow_short=short)
    if fast_kind == slow_kind == "EMA":
        return EmaCross(fast, slow, allow_short=short)
    return MaCross(fast, slow, fast_kind, slow_kind, short)


def _parse_ma_token(token: str) -> tuple[int, MaKind]:
    m = _MA_TOKEN.match(token)
    if not m:
        raise BacktestInputError(
            f"bad moving-average token {token!r}: expected a window and a kind like "
            "'50SMA' or 'EMA200'"
        )
    window, kind = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
    if kind not in MA_KINDS:
        raise BacktestInputError(
            f"unknown indicator {kind!r} in {token!r}; known: {', '.join(MA_KINDS)}"
        )
    return int(window), kind


def _parse_call(name: str, args_text: str, token: str, allow_short: bool) -> StrategySpec:
    args = [a.strip() for a in args_text.split(",")] if args_text.strip() else []
    try:
        nums = [float(a) for a in args]
    except ValueError:
        bad = next(a for a in args if not _is_number(a))
        raise BacktestInputError(f"bad number {bad!r} in {token!r}") from None
    arity = {"SMA": (2,), "EMA": (2,), "MOM": (1,), "MR": (1, 2, 3)}
    if name not in arity:
        raise BacktestInputError(
            f"unknown indicator {name!r} in {token!r}; known: SMA, EMA, MOM, MR, BH"
        )
    if len(nums) not in arity[name]:
        want = " or ".join(str(k) for k in arity[name])
        raise BacktestInputError(f"{name} takes {want} argument(s), got {len(nums)} in {token!r}")
    if name in ("SMA", "EMA"):
        kind: MaKind = "SMA" if name == "SMA" else "EMA"
        return _ma_cross(_as_int(args[0], token), _as_int(args[1], token), kind, kind, allow_short)
    if name == "MOM":
        return Momentum(_as_int(args[0], token), allow_short)
    z_entry = nums[1] if len(nums) > 1 else 2.0
    z_exit = nums[2] if len(nums) > 2 else 0.0
    return MeanReversion(_as_int(args[0], token), z_entry, z_exit, allow_short)


def _as_int(arg: str, token: str) -> int:
    if not arg.lstrip("-").isdigit():
        raise BacktestInputError(f"window {arg!r} in {token!r} must be a whole number of bars")
    return int(arg)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
