"""Missing sessions in a stored series: the calendar's sessions minus the dates that have bars.

:func:`find_gaps` is pure (dates in, report out); ``ColdStorageManager.gap_report`` feeds it the
stored dates and the calendar's sessions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

UNEXPECTED_EXAMPLES = 20


@dataclass(frozen=True)
class Gap:
    """A run of consecutive missing sessions (consecutive in the calendar, not in days)."""

    first_missing: date
    last_missing: date
    sessions: int

    def public(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "first_missing": self.first_missing.isoformat(),
            "last_missing": self.last_missing.isoformat(),
            "sessions": self.sessions,
        }


@dataclass(frozen=True)
class GapReport:
    """Sessions of ``calendar`` in [start, end] without a stored bar of the series."""

    symbol: str
    interval: str
    source: str
    calendar: str
    start: date
    end: date
    expected_sessions: int
    stored_sessions: int
    gaps: tuple[Gap, ...]
    unexpected_dates: tuple[date, ...] = field(default=())
    """Up to 20 stored dates that are not sessions (a bar on a holiday or weekend)."""
    unexpected_count: int = 0

    @property
    def missing_sessions(self) -> int:
        """Sessions without a bar, over all gaps."""
        return sum(g.sessions for g in self.gaps)

    @property
    def max_gap_sessions(self) -> int:
        """Length of the longest gap in sessions; 0 when complete."""
        return max((g.sessions for g in self.gaps), default=0)

    def ok(self, max_gap: int = 0) -> bool:
        """True when no gap is longer than ``max_gap`` sessions (``max_gap=1``: "no gaps of more
        than one trading day")."""
        return self.max_gap_sessions <= max_gap

    def public(self, max_gap: int = 0) -> dict[str, Any]:
        """JSON-ready form, judged against ``max_gap``."""
        return {
            "symbol": self.symbol,
            "interval": self.interval,
            "source": self.source,
            "calendar": self.calendar,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "max_gap": max_gap,
            "ok": self.ok(max_gap),
            "max_gap_sessions": self.max_gap_sessions,
            "missing_sessions": self.missing_sessions,
            "expected_sessions": self.expected_sessions,
            "stored_sessions": self.stored_sessions,
            "gaps": [g.public() for g in self.gaps],
            "unexpected_count": self.unexpected_count,
            "unexpected_dates": [d.isoformat() for d in self.unexpected_dates],
        }


def find_gaps(sessions: Sequence[date], stored: Iterable[date]) -> list[Gap]:
    """Runs of ``sessions`` (sorted) that are not in ``stored``, in order."""
    have = set(stored)
    gaps: list[Gap] = []
    run: list[date] = []
    for session in sessions:
        if session in have:
            if run:
                gaps.append(Gap(run[0], run[-1], len(run)))
                run = []
        else:
            run.append(session)
    if run:
        gaps.append(Gap(run[0], run[-1], len(run)))
    return gaps


def build_report(
    *,
    symbol: str,
    interval: str,
    source: str,
    calendar: str,
    start: date,
    end: date,
    sessions: Sequence[date],
    stored: Iterable[date],
) -> GapReport:
    """The :class:`GapReport` of a series stored on ``stored`` dates against ``sessions``."""
    in_range = {d for d in stored if start <= d <= end}
    expected = set(sessions)
    unexpected = sorted(in_range - expected)
    return GapReport(
        symbol=symbol,
        interval=interval,
        source=source,
        calendar=calendar,
        start=start,
        end=end,
        expected_sessions=len(sessions),
        stored_sessions=len(in_range & expected),
        gaps=tuple(find_gaps(sessions, in_range)),
        unexpected_dates=tuple(unexpected[:UNEXPECTED_EXAMPLES]),
        unexpected_count=len(unexpected),
    )
