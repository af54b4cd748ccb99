"""The quant service's live analytics: ``md.bars.v1`` in, ``quant.analytics.v1`` out.

Consumes the bar topic in its own consumer group (replicas share the instruments; each keeps the
state of its partitions' instruments) from the live end, and for every live bar publishes an
:class:`~sextant_common.events.Analytics` event: EWMA volatility, 1-day VaR, rolling beta to the
benchmark of the bar's source (:mod:`sextant_quant.live.figures`) and the filtered regime
probabilities (:mod:`sextant_quant.live.nowcast`). Bars known longer ago than the live window
are a backfill passing through and are skipped; invalid bars are the datasets consumer's to
dead-letter.

An instrument's state starts from its recent history in the datasets service (its first live
bar waits for that read); its regime model is fitted in the background, one instrument at a
time, on the daily closes before its first live day, and is ``pending`` until then. Each event
continues the trace of its bar.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from pydantic import ValidationError

from sextant_common import topics, tracecontext, tracing
from sextant_common.durable_consumer import Record
from sextant_common.events import Analytics, Bar, Interval
from sextant_common.producer import EventProducer
from sextant_common.tail_consumer import Refusals, TailConsumer
from sextant_quant.live.figures import (
    BETA_WINDOW,
    EWMA_SEED_BARS,
    RISKMETRICS_LAMBDA,
    VAR_CONFIDENCE,
    RiskState,
)
from sextant_quant.live.nowcast import RegimeNowcast
from sextant_quant.market_data import MarketData, MarketDataError, gather_bounded
from sextant_quant.regimes import fit_hmm_regimes

log = logging.getLogger(__name__)

WARM_BARS = 4 * (EWMA_SEED_BARS + BETA_WINDOW)
"""Bars of history read before an instrument's first live bar (the EWMA forgets in ~100)."""
SHIP_EVERY = 50
"""Bars of a fetch computed between two chances for the producer to send: a burst of 500 bars
(one second of 500 instruments) starts leaving after ~2 ms instead of after all 500."""
MAX_UNACKED = 10_000
"""Events sent and not yet acknowledged before a fetch waits for the broker (backpressure):
fetches do not wait for their acknowledgements, which would hold the next fetch back."""
WARM_TIMEOUT_S = 5.0
"""How long a first live bar waits for its history; then its state starts empty."""
REGIME_FIT_DAYS = 2_520
"""Daily closes (about 10 years) the regime model is fitted on."""
REGIME_STATES = 3
FITTING = "the regime model is being fitted"
RESTART_MIN_S = 1.0
RESTART_MAX_S = 30.0

StateKey = tuple[str, Interval]


class LiveAnalytics:
    """Per-bar analytics of every instrument with live bars, published on ``quant.analytics.v1``."""

    def __init__(
        self,
        *,
        bootstrap: str,
        market: MarketData,
        group_id: str,
        benchmarks: Mapping[str, str],
        live_window: timedelta,
    ) -> None:
        """``benchmarks`` maps a bar's source to its beta benchmark; ``"*"`` for the others."""
        self._bootstrap = bootstrap
        self._market = market
        self._benchmarks = benchmarks
        self._live_window = live_window
        self._group_id = group_id  # names the consumer spans
        self._consumer = TailConsumer(
            bootstrap=bootstrap,
            topics=(topics.MD_BARS,),
            name=group_id,
            handle=self._handle,
            group_id=group_id,
        )
        self._producer: EventProducer | None = None
        self._unacked: set[asyncio.Future[object]] = set()
        self._risk: dict[StateKey, RiskState] = {}
        self._regimes: dict[str, RegimeNowcast] = {}
        self._regime_pending: dict[str, str] = {}
        self._days_before_fit: dict[str, dict[date, float]] = {}
        """each instrument's last price per UTC day while its model is being fitted"""
        self._fits: asyncio.Queue[tuple[str, datetime]] = asyncio.Queue()
        self.latest: dict[str, dict[Interval, Analytics]] = {}
        """The last event published per instrument and interval (``GET /v1/analytics``)."""

    @property
    def running(self) -> bool:
        """Whether the consumer is connected and reading."""
        return self._consumer.running

    async def run(self) -> None:
        """Consume and publish until cancelled; a failure (the broker gone) restarts the
        consumer after a backoff of 1 s doubling to 30 s, and is logged."""
        fitter = asyncio.create_task(self._fit_regimes(), name="regime-fits")
        delay = RESTART_MIN_S
        try:
            while True:
                started = asyncio.get_running_loop().time()
                try:
                    async with EventProducer(self._bootstrap, linger_ms=0) as producer:
                        self._producer = producer
                        await self._consumer.run()
                except Exception:
                    if asyncio.get_running_loop().time() - started > RESTART_MAX_S:
                        delay = RESTART_MIN_S
                    log.exception("live analytics stopped; restarting", extra={"delay_s": delay})
                    await asyncio.sleep(delay)
                    delay = min(2 * delay, RESTART_MAX_S)
        finally:
            fitter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fitter

    def benchmark_of(self, source: str) -> str:
        """The instrument id a bar of ``source`` is measured against for beta."""
        return self._benchmarks.get(source) or self._benchmarks.get("*", "SPX")

    async def _handle(self, records: list[Record]) -> Refusals:
        cutoff = datetime.now(UTC) - self._live_window
        live: list[tuple[Bar, str | None]] = []
        for record in records:
            try:
                bar = Bar.model_validate_json(record.value or b"")
            except (ValidationError, ValueError):
                continue  # the datasets consumer dead-letters it
            # a bar cannot be known before it starts: one that claims so would hold its
            # instrument's state at a future start and shut out the bars after it
            if cutoff <= bar.ts_known and bar.ts_event <= bar.ts_known:
                live.append((bar, tracecontext.from_headers(record.headers)))
        if not live:
            return ()
        # Benchmarks first, so a fetch holding a benchmark's bar and an instrument's bar of the
        # same start gives the instrument's beta that pair (the sort keeps each one's order).
        benchmarks = set(self._benchmarks.values())
        live.sort(key=lambda item: item[0].instrument_id not in benchmarks)
        new = {(bar.instrument_id, bar.interval): bar for bar, _ in live}
        new = {key: bar for key, bar in new.items() if key not in self._risk}
        for first in (True, False):  # benchmarks' history first: the others pair with it
            await gather_bounded(
                [
                    functools.partial(self._warm, bar)
                    for bar in new.values()
                    if (bar.instrument_id in benchmarks) is first
                ]
            )
        producer = self._producer
        if producer is None:
            raise RuntimeError("live analytics handled bars before its producer started")
        for done, (bar, traceparent) in enumerate(live, 1):
            event = self._update(bar)
            if event is not None:
                with tracing.consumer_span(topics.MD_BARS, traceparent, self._group_id):
                    self._track(await producer.send(event))
                self.latest.setdefault(bar.instrument_id, {})[bar.interval] = event
            if done % SHIP_EVERY == 0:
                await asyncio.sleep(0)  # let the producer ship what is computed so far
        if len(self._unacked) > MAX_UNACKED:  # the broker is behind: wait for it
            await asyncio.gather(*self._unacked, return_exceptions=True)
        return ()

    def _track(self, ack: asyncio.Future[object]) -> None:
        """Keep ``ack`` until the broker answers; a failed send is logged (the figures are
        recomputed on the next bar, so nothing is retried)."""
        self._unacked.add(ack)
        ack.add_done_callback(self._acknowledged)

    def _acknowledged(self, ack: asyncio.Future[object]) -> None:
        self._unacked.discard(ack)
        if not ack.cancelled() and (error := ack.exception()) is not None:
            log.warning("live analytics not published", extra={"error": repr(error)[:300]})

    def _update(self, bar: Bar) -> Analytics | None:
        """Take one bar into its instrument's state; the event to publish, None for a bar that
        is not after the last one taken."""
        state = self._risk[(bar.instrument_id, bar.interval)]
        benchmark_id = self.benchmark_of(bar.source)
        if not state.add(bar.ts_event, bar.close, self._benchmark_returns(benchmark_id, bar)):
            return None
        figures = state.figures(benchmark_id)
        pending = dict(figures.pending)
        probabilities = None
        nowcast = self._regimes.get(bar.instrument_id)
        if nowcast is not None:
            probabilities = nowcast.update(bar.ts_event.date(), bar.close)
        else:
            why = pending["regime"] = self._regime_pending.get(bar.instrument_id, FITTING)
            if why == FITTING:  # kept for the fit to catch up on, not after a failed fit
                days = self._days_before_fit.setdefault(bar.instrument_id, {})
                days[bar.ts_event.date()] = bar.close
        return Analytics(
            instrument_id=bar.instrument_id,
            interval=bar.interval,
            ts_event=bar.ts_event,
            close=bar.close,
            bar_revision=bar.revision,
            source=bar.source,
            ewma_vol=figures.ewma_vol,
            ewma_lambda=RISKMETRICS_LAMBDA,
            var_1d=figures.var_1d,
            var_confidence=VAR_CONFIDENCE,
            beta=figures.beta,
            benchmark=benchmark_id,
            beta_window=BETA_WINDOW,
            regime=None
            if probabilities is None
            else max(probabilities, key=probabilities.__getitem__),
            regime_probabilities=probabilities,
            pending=pending,
            ts_computed=datetime.now(UTC),
        )

    def _benchmark_returns(
        self, benchmark_id: str, bar: Bar
    ) -> dict[datetime, tuple[datetime, float]] | None:
        """The recent returns by bar start of ``bar``'s benchmark at its interval, if tracked."""
        benchmark = self._risk.get((benchmark_id, bar.interval))
        return None if benchmark is None else benchmark.by_start

    async def _warm(self, bar: Bar) -> None:
        """Start the state of ``bar``'s instrument and interval from its stored history (empty
        when there is none yet) and queue its regime fit."""
        state = RiskState(bar.asset_class, bar.interval)
        start = bar.ts_event - WARM_BARS * bar.interval.duration
        end = bar.ts_event - bar.interval.duration
        try:
            async with asyncio.timeout(WARM_TIMEOUT_S):
                history = await self._market.ohlcv(
                    bar.instrument_id,
                    start.isoformat().replace("+00:00", "Z"),
                    end.isoformat().replace("+00:00", "Z"),
                    interval=bar.interval.value,
                )
        except (MarketDataError, TimeoutError) as exc:
            log.info(
                "live analytics start without history",
                extra={"instrument": bar.instrument_id, "reason": str(exc)[:200] or "timeout"},
            )
        else:
            before = pd.Timestamp(bar.ts_event).tz_convert(None)
            closes = history["close"][history.index < before]
            benchmark = self._benchmark_returns(self.benchmark_of(bar.source), bar)
            for moment, close in zip(
                closes.index.tz_localize(UTC).to_pydatetime(), closes.to_numpy(), strict=True
            ):
                state.add(moment, float(close), benchmark)
        self._risk[(bar.instrument_id, bar.interval)] = state
        if bar.instrument_id not in self._regimes and bar.instrument_id not in self._regime_pending:
            self._regime_pending[bar.instrument_id] = FITTING
            self._fits.put_nowait((bar.instrument_id, bar.ts_event))

    async def _fit_regimes(self) -> None:
        """Fit queued instruments' regime models one at a time, off the event loop."""
        while True:
            instrument_id, first_live = await self._fits.get()
            day_before = (first_live - timedelta(days=1)).date().isoformat()
            try:
                closes = (await self._market.closes(instrument_id, end=day_before)).iloc[
                    -REGIME_FIT_DAYS:
                ]
                model = await asyncio.to_thread(
                    fit_hmm_regimes, closes.pct_change().dropna(), REGIME_STATES
                )
                nowcast = RegimeNowcast(model, closes)
                for day, price in sorted(self._days_before_fit.pop(instrument_id, {}).items()):
                    nowcast.update(day, price)  # the live days the fit took
                self._regimes[instrument_id] = nowcast
                del self._regime_pending[instrument_id]
            except (MarketDataError, ValueError) as exc:
                self._regime_pending[instrument_id] = f"no regime model: {exc}"[:300]
            except Exception as exc:  # one instrument's failed fit must not stop the others'
                log.exception("regime fit failed", extra={"instrument": instrument_id})
                reason = f"no regime model: the fit failed ({type(exc).__name__}: {exc})"
                self._regime_pending[instrument_id] = reason[:300]
            self._days_before_fit.pop(instrument_id, None)
