"""Which well-formed bars the lake accepts: from a registered source, and not from the future.

A bar can pass every schema check and still be wrong for the lake: produced by a client outside
the project under a made-up source, or dated after the moment it was received. Such a bar would
be stored for good (the writer is idempotent on the natural key, so a later correct bar with the
same key would even be dropped as a duplicate) and would show in ``/v1/instruments`` as the
series' last bar. The consumer asks :meth:`BarAdmission.refusal` for every valid bar and
dead-letters the refused ones with the reason.

The time rules, with ``now`` the consumer's clock when the batch arrived:

* ``ts_event`` (the bar's start) at most ``now + interval + clock_skew``. A finished bar starts
  at least one interval before now; the extra interval admits a bar still forming (a live
  feed's last bar) and a daily bar labelled with a local date that is already "tomorrow" in UTC
  terms for a few hours, the skew admits producer clocks running ahead.
* ``ts_known`` (when Sextant learned it) at most ``now + clock_skew``. Knowledge time later than
  the receipt is a contradiction: an as-of query would hide the bar until then while the
  catalogue already shows it, and its natural key would be taken.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from sextant_common.events import Bar, Interval
from sextant_common.sources import accepted_sources, unknown_source_reason


@dataclass(frozen=True)
class BarAdmission:
    """The lake's acceptance rules (see the module docstring)."""

    sources: frozenset[str]
    clock_skew: timedelta = timedelta(minutes=5)

    @classmethod
    def build(cls, extra_sources: Iterable[str] = (), clock_skew_s: float = 300.0) -> BarAdmission:
        """Registered provider sources plus ``extra_sources``, with ``clock_skew_s`` seconds."""
        if clock_skew_s < 0:
            raise ValueError(f"clock skew must be >= 0 seconds, got {clock_skew_s}")
        return cls(accepted_sources(extra_sources), timedelta(seconds=clock_skew_s))

    def checker(self, now: datetime) -> AdmissionCheck:
        """The rules evaluated against ``now`` (one per consumed batch: the limits are fixed)."""
        return AdmissionCheck(self, now)

    def refusal(self, bar: Bar, now: datetime) -> str | None:
        """Why ``bar`` is refused at ``now``, or None when the lake takes it."""
        return self.checker(now).refusal(bar)


class AdmissionCheck:
    """:class:`BarAdmission` at one ``now``, with the time limits computed once."""

    def __init__(self, rules: BarAdmission, now: datetime) -> None:
        self._rules = rules
        self._now = now
        self._latest_known = now + rules.clock_skew
        self._latest_start = {i: now + i.duration + rules.clock_skew for i in Interval}

    def refusal(self, bar: Bar) -> str | None:
        """Why ``bar`` is refused, or None when the lake takes it."""
        if bar.source not in self._rules.sources:
            return unknown_source_reason(bar.source, self._rules.sources)
        skew = f"{self._rules.clock_skew.total_seconds():g}s"
        if bar.ts_event > self._latest_start[bar.interval]:
            return (
                f"ts_event {_iso(bar.ts_event)} is in the future: a {bar.interval.value} bar may "
                f"start at most one bar length plus {skew} of clock skew after now "
                f"({_iso(self._now)})"
            )
        if bar.ts_known > self._latest_known:
            return (
                f"ts_known {_iso(bar.ts_known)} is in the future: a bar cannot be known later "
                f"than it is received (now {_iso(self._now)}, clock skew {skew})"
            )
        return None

    def refused_rows(self, bars: pa.Table) -> np.ndarray:
        """Which rows of ``bars`` (the lake's bar columns, each row a valid bar) :meth:`refusal`
        refuses, as a boolean array: the same rules over whole columns."""
        sources = pa.array(sorted(self._rules.sources), pa.string())
        unknown = ~pc.is_in(bars.column("source"), value_set=sources).to_numpy(zero_copy_only=False)
        intervals = pc.index_in(bars.column("interval"), value_set=_INTERVALS)
        # an interval outside the enum (not a valid bar) gets the last limit: no start is early
        # enough for it
        latest_start = np.array([_epoch_us(self._latest_start[i]) for i in Interval] + [_NEVER])
        starts = _micros(bars.column("ts_event"))
        late_start = starts > latest_start[intervals.fill_null(len(_INTERVALS)).to_numpy()]
        late_known = _micros(bars.column("ts_known")) > _epoch_us(self._latest_known)
        refused: np.ndarray = unknown | late_start | late_known
        return refused


_INTERVALS = pa.array([i.value for i in Interval], pa.string())
_NEVER = np.iinfo(np.int64).min
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _epoch_us(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _micros(column: pa.ChunkedArray) -> np.ndarray:
    return pc.cast(column, pa.int64()).to_numpy()


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
