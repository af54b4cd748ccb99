"""The ``simulated`` provider: a seeded, deterministic synthetic market. Copy it to write one.

It serves ~50 instruments (US equities, two indices, FX pairs, crypto; see
``sextant_ingest.market.universe``) with daily and intraday history and a live feed, offline and
reproducible: the same seed and query always give byte-identical bars, and a bar never depends
on which other bars or instruments were asked for, so overlapping queries and the live feed
agree with each other.

Every provider answers a :class:`BarQuery` in three steps, as OpenBB's fetchers do:

1. ``transform_query(query)``: validate the query and fill defaults (unknown ids raise
   :class:`UnknownInstrument` before anything is fetched; the range is clamped to what exists).
2. ``aextract_data(plan, instrument)``: get raw data; in a real provider this is the only step
   that does I/O (HTTP, files). Raw data comes in pages, so long ranges stream in bounded memory.
   Here, a page is the output of the numpy model in ``sextant_ingest.market.model``.
3. ``transform_data(plan, raw)``: turn raw rows into standard :class:`Bar` events with the two
   timestamps: ``ts_event`` (bar start) and ``ts_known`` (when it could be known: its end).

``history`` chains the three; ``live`` streams each bar as its interval ends.

The module declares what it serves like every provider module: ``PROVIDER`` (a
:class:`ProviderInfo`), ``FETCHERS`` (the ``option_chain`` dataset: seeded option chains of the
equities and indices, see :class:`SimulatedOptionChainFetcher`) and ``BARS`` (this class);
the registry derives the ``bars`` dataset of the unified fetcher (``POST /v1/fetch`` with
``"provider": "simulated"``) from ``BARS``. Every bar's and quote's ``source`` is ``simulated``,
and routing never falls back to it (``fallback=False``): simulated data is only served when
asked for by name.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Self

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from sextant_common.events import AssetClass, Bar, Interval, OptionQuote, OptionRight
from sextant_common.instruments import Instrument
from sextant_common.timeparse import UtcBound
from sextant_ingest.market import sessions as cal
from sextant_ingest.market.model import (
    DailyPath,
    FloatArray,
    IntArray,
    MarketParams,
    MarketPath,
    Ohlcv,
    draw_intraday_noise,
    intraday_ohlcv,
    simulate_daily,
    simulate_market,
    u_shaped_profile,
)
from sextant_ingest.market.option_chain import (
    MULTIPLIER,
    ChainSlice,
    occ_symbol,
    simulate_chain,
)
from sextant_ingest.market.universe import default_instruments, params_for
from sextant_ingest.providers.base import BarProvider, BarQuery, UnknownInstrument
from sextant_ingest.providers.errors import NoData, NotFound
from sextant_ingest.providers.fetcher import (
    DataKind,
    Fetcher,
    ProviderInfo,
    RateLimit,
    Transformed,
)
from sextant_ingest.providers.http import ProviderHttp

if TYPE_CHECKING:
    from sextant_ingest.fetching.settings import FetchSettings

PROVIDER = ProviderInfo(
    name="simulated",
    base_url="",  # no network: the model runs in process
    kinds=frozenset({DataKind.BARS, DataKind.OPTIONS}),
    rate_limit=RateLimit(requests=1000, per_seconds=1.0),
    asset_classes=frozenset(
        {AssetClass.EQUITY, AssetClass.ETF, AssetClass.INDEX, AssetClass.FX, AssetClass.CRYPTO}
    ),
    fallback=False,  # synthetic prices must never stand in for a real provider's
)

Clock = Callable[[], datetime]

EPOCH = cal.FIRST_DAY
"""Model day 0: the simulated history starts here; earlier parts of a query are empty."""
ANCHOR = date(2025, 1, 1)
"""Default-universe prices are the prices at the start of this day."""
_EPOCH_DAYS = cal.to_days(EPOCH)
_ANCHOR_DAY = (ANCHOR - EPOCH).days
_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PAGE_CELLS = 1_000_000
"""Model cells (sessions x knots) per intraday page: bounds memory on long 1 s queries."""


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SimulatedQuery:
    """A validated query: resolved instruments, UTC ns bounds and the ``now`` bars must precede.

    A bar is served when ``start_ns <= ts_event < end_ns`` and its end is ``<= now_ns``.
    """

    interval: Interval
    instruments: tuple[Instrument, ...]
    start_ns: int
    end_ns: int
    now: datetime

    @property
    def step_ns(self) -> int:
        """Bar length in ns."""
        return _step_ns(self.interval)

    @property
    def now_ns(self) -> int:
        """``now`` in UTC ns."""
        return cal.to_ns(self.now)


@dataclass(frozen=True)
class RawPage:
    """Raw bars of one instrument: start times (UTC ns) and OHLCV as parallel arrays."""

    instrument: Instrument
    starts: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray

    def select(self, keep: np.ndarray | slice) -> RawPage:
        """The rows ``keep`` picks (a boolean mask or a slice)."""
        return RawPage(
            self.instrument,
            self.starts[keep],
            self.open[keep],
            self.high[keep],
            self.low[keep],
            self.close[keep],
            self.volume[keep],
        )


class SimulatedProvider(BarProvider):
    """Synthetic bars from a factor model with regimes and jumps, seeded and deterministic.

    ``universe`` defaults to the ~50 instruments of the default universe; other instruments
    get their asset class's default parameters. ``clock`` is "now": no bar ending after it is
    served, and the live feed paces itself on it (tests pass a fake clock).
    """

    name = PROVIDER.name

    def __init__(
        self,
        seed: int = 7,
        universe: Sequence[Instrument] | None = None,
        clock: Clock = _utc_now,
        market: MarketParams | None = None,
    ) -> None:
        instruments = list(default_instruments() if universe is None else universe)
        self._instruments = {i.instrument_id: i for i in instruments}
        if len(self._instruments) != len(instruments):
            raise ValueError("universe has duplicate instrument ids")
        for instrument in instruments:
            cal.check_calendar(instrument.calendar)
        self._params = {i.instrument_id: params_for(i) for i in instruments}
        self._seed = seed
        self._clock = clock
        self._market_params = market or MarketParams()
        self._live_pages: dict[tuple[str, Interval], tuple[date, RawPage]] = {}

    @classmethod
    def from_settings(
        cls, settings: FetchSettings, universe: Sequence[Instrument] | None = None
    ) -> Self:
        """The market of seed ``SEXTANT_SIM_SEED`` over ``universe`` (default: the default
        universe)."""
        return cls(seed=settings.sim_seed, universe=universe)

    @property
    def seed(self) -> int:
        """The market's seed (``SEXTANT_SIM_SEED``)."""
        return self._seed

    def instruments(self) -> list[Instrument]:
        """Every instrument of the universe."""
        return list(self._instruments.values())

    def is_in_session(self, instrument_id: str, t: datetime) -> bool:
        """Whether ``instrument_id`` trades at ``t`` (its calendar has a session open then)."""
        instrument = self._instrument(instrument_id)
        return cal.session_day(instrument.calendar, t) is not None

    # -- history: the three steps ---------------------------------------------------------

    async def history(self, query: BarQuery) -> AsyncIterator[Bar]:
        """Bars of ``query`` (``[start, end)``), instrument by instrument, in time order."""
        plan = self.transform_query(query)
        for instrument in plan.instruments:
            async for raw in self.aextract_data(plan, instrument):
                for bar in self.transform_data(plan, raw):
                    yield bar

    def transform_query(self, query: BarQuery) -> SimulatedQuery:
        """Step 1: resolve ids (raising :class:`UnknownInstrument`) and clamp the range.

        The range starts no earlier than :data:`EPOCH` and ends no later than now.
        """
        ids = tuple(self._instruments) if query.instruments is None else query.instruments
        instruments = tuple(self._instrument(i) for i in ids)
        now = self._now()
        start_ns = max(cal.to_ns(query.start), _EPOCH_DAYS * cal.NS_PER_DAY)
        end_ns = min(cal.to_ns(query.end), cal.to_ns(now))
        return SimulatedQuery(query.interval, instruments, start_ns, end_ns, now)

    async def aextract_data(
        self, plan: SimulatedQuery, instrument: Instrument
    ) -> AsyncIterator[RawPage]:
        """Step 2: raw pages of ``instrument`` for ``plan``, in time order.

        A real provider would page through an API here; this one runs the model over the
        sessions that can hold a bar of the range, a bounded number of sessions per page.
        """
        if plan.end_ns <= plan.start_ns:
            return
        # Sessions around the range: an FX session starts the evening before its day.
        first = cal.to_date(plan.start_ns // cal.NS_PER_DAY - 1)
        last = cal.to_date(plan.end_ns // cal.NS_PER_DAY + 1)
        sessions = cal.sessions(instrument.calendar, first, last)
        for chunk in _chunks(sessions, plan.interval):
            page = self._page(instrument, plan.interval, chunk)
            keep = (page.starts >= plan.start_ns) & (page.starts < plan.end_ns)
            keep &= page.starts + plan.step_ns <= plan.now_ns
            if keep.any():
                yield page.select(keep)
            await asyncio.sleep(0)  # the model is CPU work: let other tasks run between pages

    def transform_data(
        self, plan: SimulatedQuery, raw: RawPage, ts_known: datetime | None = None
    ) -> list[Bar]:
        """Step 3: standard bars from a raw page.

        ``ts_known`` is the bar's end capped at ``plan.now`` unless given (the live feed
        passes the moment it publishes). The page is checked against Bar's rules in one
        vectorized pass, so bars are built without per-bar validation (4x faster).
        """
        check_page(raw)
        step = plan.interval.duration
        instrument = raw.instrument
        rows = zip(
            raw.starts.tolist(),
            raw.open.tolist(),
            raw.high.tolist(),
            raw.low.tolist(),
            raw.close.tolist(),
            raw.volume.tolist(),
            strict=True,
        )
        bars = []
        for start_ns, open_, high, low, close, volume in rows:
            ts_event = _UNIX_EPOCH + timedelta(microseconds=start_ns // 1000)
            bars.append(
                Bar.model_construct(
                    instrument_id=instrument.instrument_id,
                    asset_class=instrument.asset_class,
                    interval=plan.interval,
                    ts_event=ts_event,
                    open=open_,
                    high=high,
                    low=low,
                    close=close,
                    volume=volume,
                    source=self.name,
                    ts_known=ts_known or min(ts_event + step, plan.now),
                    revision=0,
                )
            )
        return bars

    # -- live -----------------------------------------------------------------------------

    async def live(self, interval: Interval) -> AsyncGenerator[Bar, None]:
        """Bars as they complete: at each boundary ``t`` of ``interval`` (on the clock), one bar
        ``[t - interval, t)`` per instrument in session at its start, ``ts_known`` = now.

        Live bars are the bars ``history`` serves for the same times, so the tape continues the
        history exactly (today's session opens from yesterday's close). Boundaries missed while
        the consumer was slow are caught up in order.
        """
        boundary = _ceil(self._now(), interval)
        while True:
            now = self._now()
            if now < boundary:
                await asyncio.sleep((boundary - now).total_seconds())
                continue
            for bar in self.bars_ending_at(interval, boundary, ts_known=now):
                yield bar
            boundary += interval.duration

    def bars_ending_at(
        self, interval: Interval, boundary: datetime, ts_known: datetime | None = None
    ) -> list[Bar]:
        """The bars of ``interval`` that end at ``boundary``, one per instrument in session.

        Empty for a boundary after now: bars are never served before they end. Keeps the current
        session's model output of each instrument in memory between calls.
        """
        if boundary > self._now():
            return []
        start = boundary - interval.duration
        start_ns = cal.to_ns(start)
        known = ts_known or boundary
        plan = SimulatedQuery(interval, (), start_ns, start_ns + 1, max(known, boundary))
        bars: list[Bar] = []
        for instrument in self._instruments.values():
            page = self._live_page(instrument, interval, start)
            if page is None:
                continue
            i = int(np.searchsorted(page.starts, start_ns))
            if i < len(page.starts) and page.starts[i] == start_ns:
                bars.extend(self.transform_data(plan, page.select(slice(i, i + 1)), known))
        return bars

    def _live_page(
        self, instrument: Instrument, interval: Interval, start: datetime
    ) -> RawPage | None:
        if interval is Interval.D1:
            day: date | None = start.date()
        else:
            day = cal.session_day(instrument.calendar, start)
        if day is None:
            return None
        key = (instrument.instrument_id, interval)
        cached = self._live_pages.get(key)
        if cached is None or cached[0] != day:
            sessions = cal.sessions(instrument.calendar, day, day)
            cached = (day, self._page(instrument, interval, sessions))
            self._live_pages[key] = cached
        return cached[1]

    # -- the model ------------------------------------------------------------------------

    def _page(self, instrument: Instrument, interval: Interval, sessions: cal.Sessions) -> RawPage:
        """Every bar of ``interval`` in ``sessions`` (unfiltered)."""
        if not len(sessions.days):
            return _empty_page(instrument)
        daily = self._daily(instrument, int(sessions.days[-1]) - _EPOCH_DAYS)
        if interval is Interval.D1:
            rows = sessions.days - _EPOCH_DAYS
            return RawPage(
                instrument,
                sessions.days * cal.NS_PER_DAY,
                daily.open[rows],
                daily.high[rows],
                daily.low[rows],
                daily.close[rows],
                daily.volume[rows],
            )
        grid = cal.bar_grid(sessions, _step_ns(interval))
        rows = grid.sessions.days - _EPOCH_DAYS
        session = Ohlcv(
            daily.open[rows],
            daily.high[rows],
            daily.low[rows],
            daily.close[rows],
            daily.volume[rows],
        )
        noise = draw_intraday_noise(
            self._seed, instrument.instrument_id, interval.value, rows, grid.knot_counts
        )
        # Exchanges trade most at the open and close; FX and crypto never close.
        strength = 0.0 if instrument.calendar in (cal.FX, cal.ALWAYS_OPEN) else 2.0
        profile = u_shaped_profile(grid.tau, strength)
        bars = intraday_ohlcv(
            session, daily.session_var[rows], grid.tau, grid.bar_mask, profile, noise
        )
        mask = grid.bar_mask
        return RawPage(
            instrument,
            grid.bar_starts,
            bars.open[mask],
            bars.high[mask],
            bars.low[mask],
            bars.close[mask],
            bars.volume[mask],
        )

    def _daily(self, instrument: Instrument, last_day: int) -> DailyPath:
        """Daily path of ``instrument`` over model days ``0..last_day`` (at least to the anchor)."""
        n_days = max(last_day, _ANCHOR_DAY) + 1
        market = _market(self._seed, n_days, self._market_params)
        params = self._params[instrument.instrument_id]
        key = instrument.instrument_id
        return simulate_daily(self._seed, key, market, params, self._market_params, _ANCHOR_DAY)

    def _instrument(self, instrument_id: str) -> Instrument:
        try:
            return self._instruments[instrument_id]
        except KeyError:
            raise UnknownInstrument(
                f"simulated provider has no instrument {instrument_id!r}; "
                "see SimulatedProvider.instruments() for the universe"
            ) from None

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None:
            raise ValueError(f"clock must return an aware UTC datetime, got naive {now}")
        return now.astimezone(UTC)


@lru_cache(maxsize=4)
def _market(seed: int, n_days: int, params: MarketParams) -> MarketPath:
    # Shared by every instrument of a query (and every query of the same day).
    return simulate_market(seed, n_days, params)


def _step_ns(interval: Interval) -> int:
    return int(interval.duration / timedelta(microseconds=1)) * 1000


def _ceil(t: datetime, interval: Interval) -> datetime:
    """The first multiple of ``interval`` since 1970 UTC at or after ``t``."""
    step = _step_ns(interval)
    ns = -(-cal.to_ns(t) // step) * step
    return _UNIX_EPOCH + timedelta(microseconds=ns // 1000)


def _chunks(sessions: cal.Sessions, interval: Interval) -> Iterator[cal.Sessions]:
    """``sessions`` in runs small enough for one intraday page (all at once when daily)."""
    count = len(sessions.days)
    if interval is Interval.D1 or count == 0:
        yield sessions
        return
    longest = int((sessions.closes - sessions.opens).max())
    per_page = max(1, _PAGE_CELLS // (longest // _step_ns(interval) + 3))
    for begin in range(0, count, per_page):
        window = slice(begin, begin + per_page)
        yield cal.Sessions(sessions.days[window], sessions.opens[window], sessions.closes[window])


def check_page(
    raw: RawPage,
    *,
    prefix: str = "simulated model produced an ",
    suffix: str = " (a model bug: report the seed and query)",
) -> None:
    """Raise ``ValueError`` naming the first row that breaks :class:`Bar`'s price rules
    (positive finite prices, high/low bounding open/close, finite non-negative volume).

    The message is ``{prefix}invalid bar for <id> at <ns> ns: o=.. h=.. l=.. c=.. v=..{suffix}``.
    """
    prices = np.stack((raw.open, raw.high, raw.low, raw.close))
    bad = ~np.isfinite(prices).all(axis=0) | (prices <= 0).any(axis=0)
    bad |= ~np.isfinite(raw.volume) | (raw.volume < 0)
    bad |= raw.high < np.maximum(raw.open, raw.close)
    bad |= raw.low > np.minimum(raw.open, raw.close)
    if bad.any():
        row = int(np.argmax(bad))
        raise ValueError(
            f"{prefix}invalid bar for {raw.instrument.instrument_id} at {raw.starts[row]} ns: "
            f"o={raw.open[row]} h={raw.high[row]} l={raw.low[row]} c={raw.close[row]} "
            f"v={raw.volume[row]}{suffix}"
        )


def _empty_page(instrument: Instrument) -> RawPage:
    empty = np.zeros(0)
    return RawPage(instrument, np.zeros(0, dtype=np.int64), empty, empty, empty, empty, empty)


class OptionChainParams(BaseModel):
    """One chain snapshot: ``underlying`` (an equity or index of the universe) as of ``as_of``
    (default now; the snapshot time, to the second)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    underlying: str = Field(min_length=1, max_length=64)
    as_of: UtcBound | None = None


@dataclass(frozen=True)
class RawChain:
    """A simulated chain before it becomes events: its snapshot time, spot and slices."""

    underlying: str
    snapshot: datetime
    spot: float
    slices: list[ChainSlice]


class SimulatedOptionChainFetcher(Fetcher[OptionChainParams, OptionQuote]):
    """Dataset ``option_chain``: a seeded chain of one simulated equity or index, priced from
    its SSVI surface (:mod:`sextant_ingest.market.option_chain`) at the underlying's last
    one-minute close before the snapshot, every quote labeled ``source="simulated"``.

    Built with the provider's :class:`SimulatedProvider` (``bars``; the registry passes it):
    the same seed and snapshot time always give the same chain."""

    provider = PROVIDER
    kind = DataKind.OPTIONS
    dataset = "option_chain"

    def __init__(self, bars: SimulatedProvider | None = None, *, clock: Clock = _utc_now) -> None:
        self._bars = bars
        self._clock = clock

    def transform_query(self, params: Mapping[str, Any]) -> OptionChainParams:
        """Validate ``params``; ``as_of`` defaults to now, cut to the second."""
        query = OptionChainParams.model_validate(dict(params))
        snapshot = (query.as_of or self._clock()).astimezone(UTC).replace(microsecond=0)
        return query.model_copy(update={"as_of": snapshot})

    async def aextract_data(self, query: OptionChainParams, http: ProviderHttp) -> RawChain:
        """The chain (no HTTP: ``http`` is unused). NotFound for an instrument the market does
        not have or that has no options (FX, crypto), NoData before its first bar."""
        if self._bars is None:
            raise RuntimeError(f"{type(self).__name__} was built without its bar provider")
        snapshot = query.as_of
        assert snapshot is not None  # transform_query set it
        instrument = next(
            (i for i in self._bars.instruments() if i.instrument_id == query.underlying), None
        )
        if instrument is None or instrument.asset_class not in OPTIONABLE:
            optionable = sorted(
                i.instrument_id for i in self._bars.instruments() if i.asset_class in OPTIONABLE
            )
            raise NotFound(
                PROVIDER.name,
                f"underlying {query.underlying!r} has no simulated options "
                f"(equities and indices do: {', '.join(optionable[:8])}, ...)",
            )
        recent = BarQuery(
            Interval.M1, snapshot - _SPOT_LOOKBACK, snapshot, (instrument.instrument_id,)
        )
        closes = [bar.close async for bar in self._bars.history(recent)]
        if not closes:
            raise NoData(PROVIDER.name, f"no price of {query.underlying} before {snapshot}")
        vol = params_for(instrument).vol
        slices = simulate_chain(self._bars.seed, query.underlying, vol, closes[-1], snapshot)
        return RawChain(query.underlying, snapshot, closes[-1], slices)

    def transform_data(self, query: OptionChainParams, raw: RawChain) -> Transformed[OptionQuote]:
        """One European quote per contract, ``ts_event`` = ``ts_known`` = the snapshot."""
        quotes = []
        for chain in raw.slices:
            rows = zip(
                chain.strike.tolist(),
                chain.is_call.tolist(),
                chain.bid.tolist(),
                chain.ask.tolist(),
                chain.volume.tolist(),
                chain.open_interest.tolist(),
                strict=True,
            )
            for strike, is_call, bid, ask, volume, open_interest in rows:
                quotes.append(
                    OptionQuote(
                        contract=occ_symbol(raw.underlying, chain.expiry, is_call, strike),
                        underlying=raw.underlying,
                        expiry=chain.expiry,
                        strike=strike,
                        right=OptionRight.CALL if is_call else OptionRight.PUT,
                        style="european",
                        multiplier=MULTIPLIER,
                        ts_event=raw.snapshot,
                        bid=bid,
                        ask=ask,
                        volume=volume,
                        open_interest=open_interest,
                        underlying_price=raw.spot,
                        source=PROVIDER.name,
                        ts_known=raw.snapshot,
                    )
                )
        return Transformed(quotes)


OPTIONABLE = frozenset({AssetClass.EQUITY, AssetClass.ETF, AssetClass.INDEX})
"""Asset classes whose simulated instruments have option chains."""
_SPOT_LOOKBACK = timedelta(days=7)
"""How far back the last one-minute close is looked for (covers a long weekend)."""

BARS = SimulatedProvider
FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (SimulatedOptionChainFetcher,)
"""Option chains; bars are the ``bars`` dataset the registry derives from ``BARS``."""
