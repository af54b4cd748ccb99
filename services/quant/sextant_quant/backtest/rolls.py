"""Futures rolls for the event engine: move a position from an expiring contract to the next.

``RollingStrategy(inner, rolls)`` runs ``inner`` unchanged and, for each ``Roll(ts, front,
next)``, closes the whole ``front`` position on the first ``front`` bar with ``ts >= roll.ts``
(a market order, so with ``fill_at="close"`` it fills at that bar's close) and opens the same
signed number of contracts of ``next`` on the first ``next`` bar after that (same ``ts`` when
``next`` comes after ``front`` in the bar stream, e.g. ``{"ESH4": ..., "ESM4": ...}``). Both legs
pay the contracts' slippage and commission and the new leg needs its initial margin like any
order. The quantity is the ``front`` position when its roll bar arrives, before any order
``inner`` places on that bar fills: an inner strategy should trade the contract that is live
(read ``ctx.position``) rather than a fixed symbol after the roll.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._validate import BacktestInputError
from .event import Bar, Context, Fill, Strategy


@dataclass(frozen=True)
class Roll:
    """Roll ``front`` into ``next`` at ``ts`` (ns since the Unix epoch, UTC, like ``Bar.ts``)."""

    ts: int
    front: str
    next: str

    def __post_init__(self) -> None:
        if self.front == self.next:
            raise BacktestInputError(
                f"roll at {self.ts} goes from {self.front!r} to itself; name the next contract"
            )


class RollingStrategy:
    """Wraps ``inner`` (or nothing: ``None`` only rolls what is held) and executes ``rolls``;
    see the module docstring for the rule. ``on_fill`` is forwarded to ``inner``."""

    def __init__(self, inner: Strategy | None, rolls: Sequence[Roll]) -> None:
        self.inner = inner
        self.rolls = sorted(rolls, key=lambda r: r.ts)
        # Per roll: quantity closed in the front (None until its roll bar), opened flag.
        self._closed: list[float | None] = [None] * len(self.rolls)
        self._opened = [False] * len(self.rolls)
        self._inner_fill = getattr(inner, "on_fill", None)

    def on_bar(self, bar: Bar, ctx: Context) -> None:
        """Forward the bar to ``inner``, then close/open the legs of the rolls that are due."""
        if self.inner is not None:
            self.inner.on_bar(bar, ctx)
        for n, roll in enumerate(self.rolls):
            if bar.ts < roll.ts:
                break
            if self._opened[n]:
                continue
            closed = self._closed[n]
            if closed is None and bar.symbol == roll.front:
                qty = ctx.position(roll.front)
                self._closed[n] = qty
                if qty:
                    _order(ctx, roll.front, -qty)
                else:
                    self._opened[n] = True  # nothing held: nothing to open
            elif closed is not None and bar.symbol == roll.next:
                self._opened[n] = True
                _order(ctx, roll.next, closed)

    def on_fill(self, fill: Fill, ctx: Context) -> None:
        """Forward fills to ``inner`` when it listens for them."""
        if self._inner_fill is not None:
            self._inner_fill(fill, ctx)


def _order(ctx: Context, symbol: str, qty: float) -> None:
    if qty > 0:
        ctx.buy(symbol, qty)
    else:
        ctx.sell(symbol, -qty)
