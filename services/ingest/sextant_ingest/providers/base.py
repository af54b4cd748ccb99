"""The bar-source interface: history (and a live stream) of bars, as the worker and backfill use it.

Every provider with bars yields one through the fetching registry: a provider module's own
``BARS`` class (simulated, shipped), or one over its bars fetcher (polygon, tiingo: see
:mod:`sextant_ingest.fetching.bars`).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Self

from sextant_common.events import Bar, Interval
from sextant_common.instruments import Instrument

if TYPE_CHECKING:
    from sextant_ingest.fetching.settings import FetchSettings


class UnknownInstrument(LookupError):
    """The provider does not serve the requested instrument id."""


@dataclass(frozen=True)
class BarQuery:
    """Which bars to fetch: instruments (None = every one the provider serves), interval, range.

    ``start`` is inclusive and ``end`` exclusive; both are timezone-aware UTC datetimes.
    """

    interval: Interval
    start: datetime
    end: datetime
    instruments: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "interval", Interval(self.interval))
        for name in ("start", "end"):
            if getattr(self, name).tzinfo is None:
                raise ValueError(f"{name} must be timezone-aware (UTC)")
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")


class BarProvider(abc.ABC):
    """A source of historical bars (and optionally a live stream of them)."""

    name: str
    """Value put in every Bar's ``source`` field."""
    full_history: bool = False
    """Backfill everything the provider has (a small shipped dataset) rather than a window."""
    intervals: frozenset[Interval] = frozenset(Interval)
    """Bar lengths ``history`` serves."""

    @classmethod
    def from_settings(
        cls, settings: FetchSettings, universe: Sequence[Instrument] | None = None
    ) -> Self:
        """The provider as ``settings`` configure it, serving ``universe`` when it can serve any
        instrument (the simulated market) and its own instruments when not given. The
        registry builds a module's ``BARS`` class this way."""
        return cls()

    @property
    def has_live(self) -> bool:
        """Whether :meth:`live` streams bars (the class overrides it)."""
        return type(self).live is not BarProvider.live

    @abc.abstractmethod
    def instruments(self) -> Sequence[Instrument]:
        """Everything this provider serves."""

    @abc.abstractmethod
    def history(self, query: BarQuery) -> AsyncIterator[Bar]:
        """Bars matching ``query`` in time order per instrument.

        Raises :class:`UnknownInstrument` for an id the provider does not serve.
        """

    def live(self, interval: Interval) -> AsyncIterator[Bar]:
        """Bars as they complete in real time. Providers without a live feed raise."""
        raise NotImplementedError(f"provider {self.name!r} has no live feed")
