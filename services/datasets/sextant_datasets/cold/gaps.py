"""Holes in a stored series: missing sessions of daily bars, missing bars of intraday ones.

Daily bars: the calendar's sessions minus the dates that have bars (:func:`find_gaps`,
:class:`GapReport`, counted in sessions). Intraday bars: every bar start the calendar's
sessions hold minus the stored ones (:func:`build_intraday_report`, :class:`IntradayGapReport`,
counted in bars), so a 35 s hole in 5 s bars is seven missing bars, not a complete day. Both
are pure; ``ColdStorageManager.gap_report`` feeds them the stored times and the calendar.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

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
            "unit": "sessions",
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


# -- intraday: missing bars, not missing days ---------------------------------------------------

GAP_EXAMPLES = 1000
"""Most intraday gaps listed in a report (every one is counted)."""

MAX_EXPECTED_BARS = 20_000_000
"""Largest grid an intraday report builds (about a year of 5 s bars around the clock, 160 MB)."""


@dataclass(frozen=True)
class BarGap:
    """A run of consecutive missing bars (consecutive on the calendar's bar grid, so a run can
    span a close and the next open). ``end`` is when the last missing bar would have ended."""

    first_missing: datetime
    last_missing: datetime
    bars: int
    step: timedelta

    @property
    def end(self) -> datetime:
        """End of the hole: the last missing bar's start plus one bar."""
        return self.last_missing + self.step

    def public(self) -> dict[str, Any]:
        """JSON-ready form: the hole [start, end) and the bars missing in it."""
        return {
            "start": _iso(self.first_missing),
            "end": _iso(self.end),
            "first_missing": _iso(self.first_missing),
            "last_missing": _iso(self.last_missing),
            "missing_bars": self.bars,
        }


@dataclass(frozen=True)
class IntradayGapReport:
    """Bars expected on ``calendar``'s sessions in [start, end] without a stored bar.

    Every bar of the grid counts: on ``24/7`` every step of every day, on an exchange calendar
    every step inside a session (bars start on multiples of the interval since 1970 UTC, within
    [open, close), the convention of the simulated market).
    """

    symbol: str
    interval: str
    source: str
    calendar: str
    start: datetime
    end: datetime
    expected_bars: int
    stored_bars: int
    gap_count: int
    missing_bars: int
    max_gap_bars: int
    gaps: tuple[BarGap, ...]
    """The first :data:`GAP_EXAMPLES` gaps in time order."""
    unexpected: tuple[datetime, ...] = field(default=())
    """Up to 20 stored bar starts off the grid (outside a session or not on a step)."""
    unexpected_count: int = 0

    def ok(self, max_gap: int = 0) -> bool:
        """True when no gap is longer than ``max_gap`` bars."""
        return self.max_gap_bars <= max_gap

    def public(self, max_gap: int = 0) -> dict[str, Any]:
        """JSON-ready form, judged against ``max_gap`` (in bars)."""
        return {
            "symbol": self.symbol,
            "interval": self.interval,
            "source": self.source,
            "calendar": self.calendar,
            "unit": "bars",
            "start": _iso(self.start),
            "end": _iso(self.end),
            "max_gap": max_gap,
            "ok": self.ok(max_gap),
            "max_gap_bars": self.max_gap_bars,
            "missing_bars": self.missing_bars,
            "expected_bars": self.expected_bars,
            "stored_bars": self.stored_bars,
            "gap_count": self.gap_count,
            "gaps": [g.public() for g in self.gaps],
            "gaps_truncated": self.gap_count > len(self.gaps),
            "unexpected_count": self.unexpected_count,
            "unexpected": [_iso(t) for t in self.unexpected],
        }


def bar_grid(windows: Sequence[tuple[int, int]], step: int) -> npt.NDArray[np.int64]:
    """Bar starts (integers, e.g. epoch ms) on multiples of ``step`` inside each half-open
    window ``[lo, hi)``, in order. Windows must be sorted and disjoint. Raises ``ValueError``
    when the grid would exceed :data:`MAX_EXPECTED_BARS`."""
    firsts = [(-(-lo // step) * step, hi) for lo, hi in windows]
    total = sum(max(0, -(-(hi - first) // step)) for first, hi in firsts)
    if total > MAX_EXPECTED_BARS:
        raise ValueError(
            f"the range holds {total:,} expected bars, more than {MAX_EXPECTED_BARS:,}; "
            "narrow start and end"
        )
    parts = [np.arange(first, hi, step, dtype=np.int64) for first, hi in firsts if hi > first]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def build_intraday_report(
    *,
    symbol: str,
    interval: str,
    source: str,
    calendar: str,
    start: datetime,
    end: datetime,
    step: timedelta,
    windows: Sequence[tuple[datetime, datetime]],
    stored_ms: npt.NDArray[np.int64],
) -> IntradayGapReport:
    """The :class:`IntradayGapReport` of bars stored at ``stored_ms`` (sorted unique epoch ms)
    against the grid of ``step`` inside ``windows`` (sorted, disjoint, already clipped to
    [start, end])."""
    step_ms = _ms_of(step)
    expected = bar_grid([(_epoch_ms(lo), _epoch_ms(hi)) for lo, hi in windows], step_ms)
    present = np.isin(expected, stored_ms, assume_unique=True)
    missing = np.flatnonzero(~present)
    if missing.size:
        breaks = np.flatnonzero(np.diff(missing) != 1) + 1
        firsts = missing[np.concatenate(([0], breaks))]
        lasts = missing[np.concatenate((breaks - 1, [missing.size - 1]))]
    else:
        firsts = lasts = np.empty(0, dtype=np.int64)
    lengths = lasts - firsts + 1
    gaps = tuple(
        BarGap(_from_ms(expected[f]), _from_ms(expected[la]), int(n), step)
        for f, la, n in zip(
            firsts[:GAP_EXAMPLES], lasts[:GAP_EXAMPLES], lengths[:GAP_EXAMPLES], strict=True
        )
    )
    lo, hi = _epoch_ms(start), _epoch_ms(end)
    in_range = stored_ms[(stored_ms >= lo) & (stored_ms <= hi)]
    off_grid = in_range[~np.isin(in_range, expected, assume_unique=True)]
    return IntradayGapReport(
        symbol=symbol,
        interval=interval,
        source=source,
        calendar=calendar,
        start=start,
        end=end,
        expected_bars=int(expected.size),
        stored_bars=int(present.sum()),
        gap_count=int(lengths.size),
        missing_bars=int(missing.size),
        max_gap_bars=int(lengths.max()) if lengths.size else 0,
        gaps=gaps,
        unexpected=tuple(_from_ms(t) for t in off_grid[:UNEXPECTED_EXAMPLES]),
        unexpected_count=int(off_grid.size),
    )


def _ms_of(span: timedelta) -> int:
    return span // timedelta(milliseconds=1)


def _epoch_ms(moment: datetime) -> int:
    return _ms_of(moment - _EPOCH)


def _from_ms(ms: Any) -> datetime:
    return _EPOCH + timedelta(milliseconds=int(ms))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
