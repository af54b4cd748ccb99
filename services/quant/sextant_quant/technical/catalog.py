"""The indicators by name, for callers that choose them at run time (the HTTP API, later the
features store): their inputs, parameters with defaults and bounds, output names and warm-up.

A request is written ``name:param:param...`` (``macd:12:26:9``, ``bbands:20:2``, ``obv``);
parameters left out take their defaults, in the order of :attr:`IndicatorSpec.params`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ._inputs import FloatArray
from .bands import bbands
from .directional import adx
from .momentum import cci, macd, mom, roc, rsi, stoch, willr
from .moving_averages import ema, sma, wma
from .volatility import atr
from .volume import mfi, obv

MAX_PERIOD = 100_000
"""TA-Lib's upper bound on every period."""

Number = int | float


@dataclass(frozen=True)
class Param:
    """One parameter: its name, default, smallest allowed value and whether it is a count of
    rows (an integer) or a real number (standard deviations)."""

    name: str
    default: Number
    minimum: Number
    integer: bool = True


@dataclass(frozen=True)
class IndicatorSpec:
    """An indicator: the bar fields it reads, its parameters, its outputs (in the order
    ``compute`` returns them) and its warm-up in rows as a function of the parameters."""

    name: str
    title: str
    inputs: tuple[str, ...]
    params: tuple[Param, ...]
    outputs: tuple[str, ...]
    compute: Callable[..., tuple[FloatArray, ...]]
    lookback: Callable[..., int]


@dataclass(frozen=True)
class IndicatorRequest:
    """A parsed ``name:param...``: the spec and every parameter's value (defaults filled)."""

    spec: IndicatorSpec
    values: Mapping[str, Number]

    @property
    def key(self) -> str:
        """The canonical spelling, every parameter written out (``macd:12:26:9``)."""
        return ":".join([self.spec.name, *(_text(v) for v in self.values.values())])

    @property
    def lookback(self) -> int:
        """Rows before every output has a value (NaN before; ADX's +DI/-DI start earlier)."""
        return self.spec.lookback(**self.values)

    def compute(self, bars: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
        """Each output by name, computed from ``bars`` (open, high, low, close, volume)."""
        arrays = self.spec.compute(*(bars[f] for f in self.spec.inputs), **self.values)
        return dict(zip(self.spec.outputs, arrays, strict=True))


def _text(value: Number) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _one(fn: Callable[..., FloatArray]) -> Callable[..., tuple[FloatArray, ...]]:
    return lambda *args, **kwargs: (fn(*args, **kwargs),)


def _period(default: int, minimum: int = 2, name: str = "period") -> Param:
    return Param(name, default, minimum)


HLC = ("high", "low", "close")
SPECS: dict[str, IndicatorSpec] = {
    s.name: s
    for s in (
        IndicatorSpec(
            "sma",
            "Simple moving average",
            ("close",),
            (_period(20),),
            ("sma",),
            _one(sma),
            lambda period: period - 1,
        ),
        IndicatorSpec(
            "ema",
            "Exponential moving average (SMA seed)",
            ("close",),
            (_period(20),),
            ("ema",),
            _one(ema),
            lambda period: period - 1,
        ),
        IndicatorSpec(
            "wma",
            "Linearly weighted moving average",
            ("close",),
            (_period(20),),
            ("wma",),
            _one(wma),
            lambda period: period - 1,
        ),
        IndicatorSpec(
            "bbands",
            "Bollinger bands (SMA, population stdev)",
            ("close",),
            (_period(20), Param("nbdev", 2.0, 0.0, integer=False)),
            ("upper", "middle", "lower"),
            lambda close, period, nbdev: bbands(close, period, nbdev, nbdev),
            lambda period, nbdev: period - 1,
        ),
        IndicatorSpec(
            "rsi",
            "Relative strength index (Wilder)",
            ("close",),
            (_period(14),),
            ("rsi",),
            _one(rsi),
            lambda period: period,
        ),
        IndicatorSpec(
            "macd",
            "MACD (TA-Lib start alignment)",
            ("close",),
            (_period(12, name="fast"), _period(26, name="slow"), _period(9, 1, "signal")),
            ("macd", "signal", "hist"),
            macd,
            lambda fast, slow, signal: max(fast, slow) + signal - 2,
        ),
        IndicatorSpec(
            "mom",
            "Momentum (price change)",
            ("close",),
            (_period(10, 1),),
            ("mom",),
            _one(mom),
            lambda period: period,
        ),
        IndicatorSpec(
            "roc",
            "Rate of change (percent)",
            ("close",),
            (_period(10, 1),),
            ("roc",),
            _one(roc),
            lambda period: period,
        ),
        IndicatorSpec(
            "atr",
            "Average true range (Wilder)",
            HLC,
            (_period(14, 1),),
            ("atr",),
            _one(atr),
            lambda period: period,
        ),
        IndicatorSpec(
            "adx",
            "Average directional index with +DI and -DI",
            HLC,
            (_period(14),),
            ("adx", "plus_di", "minus_di"),
            adx,
            lambda period: 2 * period - 1,
        ),
        IndicatorSpec(
            "stoch",
            "Slow stochastic (SMA smoothing)",
            HLC,
            (_period(14, 1, "fastk"), _period(3, 1, "slowk"), _period(3, 1, "slowd")),
            ("k", "d"),
            stoch,
            lambda fastk, slowk, slowd: fastk + slowk + slowd - 3,
        ),
        IndicatorSpec(
            "willr",
            "Williams %R",
            HLC,
            (_period(14),),
            ("willr",),
            _one(willr),
            lambda period: period - 1,
        ),
        IndicatorSpec(
            "cci",
            "Commodity channel index",
            HLC,
            (_period(20),),
            ("cci",),
            _one(cci),
            lambda period: period - 1,
        ),
        IndicatorSpec(
            "obv",
            "On-balance volume",
            ("close", "volume"),
            (),
            ("obv",),
            _one(obv),
            lambda: 0,
        ),
        IndicatorSpec(
            "mfi",
            "Money flow index",
            (*HLC, "volume"),
            (_period(14),),
            ("mfi",),
            _one(mfi),
            lambda period: period,
        ),
    )
}


def parse_indicator(text: str) -> IndicatorRequest:
    """``name:param...`` as an :class:`IndicatorRequest`; ``ValueError`` saying what is wrong
    (unknown name, too many parameters, a value that is not a number or out of range)."""
    name, *raw = text.strip().lower().split(":")
    spec = SPECS.get(name)
    if spec is None:
        raise ValueError(f"unknown indicator {name!r} in {text!r}; known: {', '.join(SPECS)}")
    if len(raw) > len(spec.params):
        names = ", ".join(p.name for p in spec.params) or "none"
        raise ValueError(f"{text!r}: {name} takes at most {len(spec.params)} ({names})")
    values: dict[str, Number] = {}
    for i, param in enumerate(spec.params):
        values[param.name] = _value(text, param, raw[i]) if i < len(raw) else param.default
    return IndicatorRequest(spec, values)


def _value(text: str, param: Param, raw: str) -> Number:
    """One parameter's value from its text, checked against its bounds."""
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    kind = "an integer" if param.integer else "a number"
    upper = MAX_PERIOD if param.integer else 100.0
    if not (param.minimum <= value <= upper) or (param.integer and not value.is_integer()):
        raise ValueError(
            f"{text!r}: {param.name} must be {kind} from {param.minimum} to {upper}, got {raw!r}"
        )
    return int(value) if param.integer else value
