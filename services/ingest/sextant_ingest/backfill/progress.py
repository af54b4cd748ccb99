"""A one-line progress display on stderr: symbols, rows, rate and ETA (no dependency)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO


class Progress:
    """Counts finished symbols and rows; redraws one line (``\\r``) on a terminal, or prints a
    line every ``every_s`` seconds when stderr is a file or pipe (logs stay readable)."""

    def __init__(
        self,
        total: int,
        *,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
        every_s: float | None = None,
        enabled: bool = True,
    ) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self._clock = clock
        self._tty = self.stream.isatty()
        self._every_s = every_s if every_s is not None else (0.1 if self._tty else 5.0)
        self._enabled = enabled
        self._started = clock()
        self._last_draw = float("-inf")
        self._drawn: tuple[int, int] | None = None
        self.finished = 0
        self.failed = 0
        self.rows = 0

    def advance(self, rows: int = 0, *, failed: bool = False) -> None:
        """One more symbol processed (``failed`` or done with ``rows`` rows)."""
        self.finished += 1
        self.failed += int(failed)
        self.rows += rows
        now = self._clock()
        if now - self._last_draw >= self._every_s or self.finished == self.total:
            self._draw(now)

    def line(self, now: float | None = None) -> str:
        """The progress text: ``42/500 symbols 8.4% | 105,672 rows | 52,836 rows/s | ETA 0:09``."""
        elapsed = max((now if now is not None else self._clock()) - self._started, 1e-9)
        rate = self.rows / elapsed
        pct = 100.0 * self.finished / self.total if self.total else 100.0
        remaining = self.total - self.finished
        eta = elapsed / self.finished * remaining if self.finished else float("nan")
        failed = f" | {self.failed} failed" if self.failed else ""
        return (
            f"backfill {self.finished}/{self.total} symbols {pct:.1f}% | {self.rows:,} rows | "
            f"{rate:,.0f} rows/s | ETA {_clock_text(eta)}{failed}"
        )

    def close(self) -> None:
        """Draw the final state and end the line."""
        if not self._enabled:
            return
        if self._drawn != (self.finished, self.rows):
            self._draw(self._clock())
        if self._tty:
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, now: float) -> None:
        self._last_draw = now
        self._drawn = (self.finished, self.rows)
        if not self._enabled:
            return
        text = self.line(now)
        self.stream.write(f"\r{text}\x1b[K" if self._tty else text + "\n")
        self.stream.flush()


def _clock_text(seconds: float) -> str:
    if seconds != seconds:  # NaN: nothing finished yet
        return "?"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
