"""Screener filters and sort keys as text (``vol_60d<0.3``, ``-mom_12_1``), and a screen run:
filter the instruments on their metrics, rank them, keep the first ``limit``."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sextant_quant.screen.panel import BoolArray, FloatArray, IntArray

COMPARISONS: dict[str, Callable[[FloatArray, float], BoolArray]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "!=": operator.ne,
    "==": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
    "=": operator.eq,
}
_EXPRESSION = re.compile(
    r"^\s*(?P<metric>[A-Za-z_][A-Za-z0-9_]*)\s*(?P<op><=|>=|!=|==|<|>|=)\s*(?P<value>\S+)\s*$"
)
SYMBOL = "symbol"
"""The sort key that orders by instrument id instead of a metric."""
_NUMBER = r"[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]{1,2})?"
"""A finite number as the filters take it (an exponent of at most two digits stays finite)."""


def filter_pattern(metrics: Collection[str]) -> str:
    """The regular expression of one ``filter`` text (comma-separated expressions) that
    :func:`parse_filters` accepts, for the API schema."""
    ops = "|".join(re.escape(op) for op in COMPARISONS)
    expression = rf"\s*({'|'.join(metrics)})\s*({ops})\s*{_NUMBER}\s*"
    return rf"^({expression})?(,({expression})?)*$"


def sort_pattern(metrics: Collection[str]) -> str:
    """The regular expression of the ``sort`` keys :func:`parse_sort` accepts."""
    return rf"^\s*[-+]?({'|'.join([SYMBOL, *metrics])})\s*$"


class ScreenError(ValueError):
    """A bad screener input; ``field`` names the request parameter to change."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Filter:
    """Keep instruments whose ``metric`` compares with ``value`` by ``op`` (a NaN metric,
    too little history, never passes)."""

    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric}{self.op}{self.value:g}"

    def passes(self, values: FloatArray) -> BoolArray:
        """Per instrument, whether it passes."""
        with np.errstate(invalid="ignore"):
            passed: BoolArray = COMPARISONS[self.op](values, self.value) & ~np.isnan(values)
        return passed


def parse_filters(texts: Sequence[str], metrics: Collection[str]) -> list[Filter]:
    """Filters from ``metric<op>number`` expressions, several per text when comma-separated
    (``vol_60d<0.3,ret_12m>0``); ops: < <= > >= = == !=.

    Raises :class:`ScreenError` (field ``filter``) naming the bad expression and what is allowed.
    """
    filters = []
    for text in texts:
        for expression in filter(None, (part.strip() for part in text.split(","))):
            match = _EXPRESSION.match(expression)
            if match is None:
                raise ScreenError(
                    "filter",
                    f"cannot read filter {expression!r}: write metric<op>number, e.g. "
                    "vol_60d<0.3, with op one of < <= > >= = !=",
                )
            metric, op, value = match["metric"], match["op"], match["value"]
            if metric not in metrics:
                raise ScreenError(
                    "filter",
                    f"unknown metric {metric!r} in filter {expression!r}; metrics: "
                    + ", ".join(metrics),
                )
            if re.fullmatch(_NUMBER, value) is None:
                raise ScreenError(
                    "filter",
                    f"filter {expression!r} needs a number such as 0.3, -5 or 2.5e-3, "
                    f"got {value!r}",
                )
            filters.append(Filter(metric, op, float(value)))
    return filters


@dataclass(frozen=True)
class SortKey:
    """Rank by ``key`` (a metric or ``symbol``), largest first when ``descending``."""

    key: str
    descending: bool

    def __str__(self) -> str:
        return f"{'-' if self.descending else ''}{self.key}"


def parse_sort(text: str, metrics: Collection[str]) -> SortKey:
    """``mom_12_1`` (ascending) or ``-mom_12_1`` (descending), or ``symbol``.

    Raises :class:`ScreenError` (field ``sort``) for an unknown key."""
    key = text.strip().removeprefix("-").removeprefix("+")
    if key != SYMBOL and key not in metrics:
        raise ScreenError(
            "sort",
            f"unknown sort key {key!r}: use symbol or a metric, '-' first for descending: "
            + ", ".join(metrics),
        )
    return SortKey(key, text.strip().startswith("-"))


def rank(
    values: Mapping[str, FloatArray],
    symbols: Sequence[str],
    candidates: BoolArray,
    filters: Sequence[Filter],
    sort: SortKey,
) -> tuple[IntArray, int]:
    """Indices of the ``candidates`` (a boolean mask over instruments) that pass every filter,
    ranked by ``sort`` (instruments whose key is NaN last, ties by symbol), and how many passed.
    """
    keep = candidates.copy()
    for f in filters:
        keep &= f.passes(values[f.metric])
    chosen = np.flatnonzero(keep)
    names = np.asarray(symbols, dtype=object)[chosen]
    by_name = np.argsort(np.argsort(names, kind="stable"), kind="stable")
    if sort.key == SYMBOL:
        order = np.argsort(-by_name if sort.descending else by_name, kind="stable")
    else:
        key = values[sort.key][chosen]
        missing = np.isnan(key)
        signed = np.where(missing, 0.0, -key if sort.descending else key)
        order = np.lexsort((by_name, signed, missing))
    return chosen[order], len(chosen)
