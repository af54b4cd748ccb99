"""``sextant backfill``: publish daily history of a universe onto the bus, resumably.

    sextant backfill --universe default --start 2015-01-01 --end 2025-01-01 \\
        --provider simulated --checkpoint var/backfill/sim.jsonl --symbols 500 --concurrency 4

``--provider`` is ``fetcher`` (real providers routed by ``SEXTANT_ROUTES``, plus FRED macro
series) or any provider of the registry with bars: ``simulated``, ``shipped``, ``polygon``,
``tiingo``, or a module of your own named in ``SEXTANT_FETCH_PROVIDERS``. The broker comes from
``SEXTANT_KAFKA_BOOTSTRAP``; provider keys from the environment or ``SEXTANT_SECRETS_FILE``.
Exit status: 0 all done, 1 some symbols failed (rerun to retry just those), 2 the run could
not start (bad arguments, no broker).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson

from sextant_common.bus import BrokerUnreachable, ensure_topics
from sextant_common.logging_setup import configure_logging
from sextant_common.producer import EventProducer
from sextant_ingest.backfill.checkpoint import Checkpoint
from sextant_ingest.backfill.progress import Progress
from sextant_ingest.backfill.runner import BackfillSummary, run_backfill
from sextant_ingest.backfill.sources import (
    MACRO_PREFIX,
    BackfillSource,
    FetcherSource,
    HistorySource,
    SimulatedSource,
)
from sextant_ingest.backfill.universe import (
    DEFAULT_UNIVERSE,
    MACRO_SERIES,
    UniverseMember,
    load_universe,
)
from sextant_ingest.fetching import KafkaEventPublisher, ProviderRegistry, UnifiedFetcher
from sextant_ingest.providers.simulated import SimulatedProvider
from sextant_ingest.settings import IngestSettings

log = logging.getLogger(__name__)

FETCHER = "fetcher"
"""``--provider`` value for the routed real providers (every other value names one provider)."""
GAPS_PATH = "/v1/storage/gaps"
"""The datasets service's gap report; asked for after a run when ``SEXTANT_DATASETS_URL`` is
set. Optional: a 404 or an unreachable service just leaves gaps out of the summary."""


def build_parser() -> argparse.ArgumentParser:
    """The ``sextant`` argument parser (one subcommand so far: ``backfill``)."""
    parser = argparse.ArgumentParser(prog="sextant", description="Sextant command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    backfill = commands.add_parser(
        "backfill",
        help="publish daily history of a universe onto md.bars.v1, resumably",
        description="Publish daily bars of a universe onto md.bars.v1 (and, with the fetcher, "
        "FRED macro series onto macro.series.v1). Finished symbols go to the checkpoint; a "
        "rerun skips them.",
    )
    backfill.add_argument(
        "--universe",
        default=DEFAULT_UNIVERSE,
        help="'default' (S&P 500 constituents as of 2024-12-31) or a CSV with ticker,name",
    )
    backfill.add_argument("--start", type=_day, default=date(2015, 1, 1), help="first day (UTC)")
    backfill.add_argument(
        "--end", type=_day, default=date(2025, 1, 1), help="day after the last (exclusive)"
    )
    backfill.add_argument(
        "--provider",
        default="simulated",
        help="'fetcher' (routed real providers, plus FRED macro series) or one provider with "
        "bars: simulated, shipped, polygon, tiingo, ... (default: simulated)",
    )
    backfill.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="JSON-lines checkpoint (default: $SEXTANT_DATA_DIR/backfill/<job>.jsonl)",
    )
    backfill.add_argument("--symbols", type=_positive, default=None, help="first N symbols only")
    backfill.add_argument("--concurrency", type=_positive, default=4, help="symbols in flight")
    backfill.add_argument(
        "--no-macro", action="store_true", help="fetcher: skip the FRED macro series"
    )
    backfill.add_argument(
        "--pause",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait after each symbol (go easy on a shared broker or provider)",
    )
    backfill.add_argument("--json", action="store_true", help="print the summary as JSON")
    backfill.add_argument("--quiet", action="store_true", help="no progress line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    settings = IngestSettings()
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        members = load_universe(args.universe)
        if args.end <= args.start:
            raise ValueError(f"--end ({args.end}) must be after --start ({args.start})")
        summary = asyncio.run(backfill(args, settings, members[: args.symbols]))
    except (ValueError, BrokerUnreachable, RuntimeError) as exc:
        print(f"sextant backfill: {exc}", file=sys.stderr)
        return 2
    print(summary.text(), file=sys.stderr)
    if args.json:
        print(orjson.dumps(summary.as_dict()).decode())
    return 1 if summary.failed else 0


async def backfill(
    args: argparse.Namespace, settings: IngestSettings, members: Sequence[UniverseMember]
) -> BackfillSummary:
    """Run one backfill as ``args`` describe over ``members``; return its summary."""
    start = datetime.combine(args.start, datetime.min.time(), UTC)
    end = datetime.combine(args.end, datetime.min.time(), UTC)
    job = f"{args.provider}:1d:{args.start}:{args.end}"
    path = args.checkpoint or settings.data_dir / "backfill" / f"{job.replace(':', '_')}.jsonl"
    checkpoint = Checkpoint(path, job)
    keys = [m.ticker for m in members]
    progress = Progress(len(keys), enabled=not args.quiet)
    opened: AbstractAsyncContextManager[BackfillSource]
    if args.provider == FETCHER:
        if not args.no_macro:
            keys += [MACRO_PREFIX + series for series in MACRO_SERIES]
        opened = _fetched_source(settings, members, start, end)
    else:
        opened = provider_source(args.provider, settings, members, start, end)
    async with opened as source:
        summary = await run_backfill(
            keys,
            source,
            checkpoint,
            concurrency=args.concurrency,
            progress=progress,
            pause_s=args.pause,
        )
    summary.gaps = await datasets_gaps(settings.datasets_url)
    return summary


@asynccontextmanager
async def provider_source(
    name: str,
    settings: IngestSettings,
    members: Sequence[UniverseMember],
    start: datetime,
    end: datetime,
) -> AsyncIterator[BackfillSource]:
    """The bars of provider ``name`` for ``members``, from the registry, open while in use.

    The simulated market is encoded straight from its model's arrays onto the bus
    (:class:`SimulatedSource`); any other provider's bars go through the event sink
    (:class:`HistorySource`). ValueError for a provider that is not loaded or has no bars.
    """
    registry = ProviderRegistry.load(dict.fromkeys([*settings.fetch_providers, name]))
    async with UnifiedFetcher(settings, registry=registry) as fetcher:
        provider = fetcher.bar_provider(name, universe=[m.instrument() for m in members])
        status = next(s for s in fetcher.status() if s.name == provider.name)
        if not status.available:
            raise ValueError(f"provider {status.name!r} is unavailable: {status.reason}")
        if isinstance(provider, SimulatedProvider):
            await ensure_topics(settings)
            async with EventProducer(settings.require_bootstrap()) as producer:
                yield SimulatedSource(provider, producer, start, end)
            return
        async with KafkaEventPublisher(settings) as publisher:
            fetcher.publisher = publisher  # dead letters of records a provider could not read
            yield HistorySource(provider, publisher, start, end)


@asynccontextmanager
async def _fetched_source(
    settings: IngestSettings,
    members: Sequence[UniverseMember],
    start: datetime,
    end: datetime,
) -> AsyncIterator[BackfillSource]:
    """The real providers' data for ``members`` via the unified fetcher, open while in use."""
    async with (
        KafkaEventPublisher(settings) as publisher,
        UnifiedFetcher(settings, publisher=publisher) as fetcher,
    ):
        unavailable = [s.name for s in fetcher.status() if not s.available]
        if unavailable:
            log.info("providers without keys are skipped: %s", ", ".join(unavailable))
        yield FetcherSource(
            fetcher, start, end, asset_classes={m.ticker: m.asset_class for m in members}
        )


async def datasets_gaps(datasets_url: str | None, timeout_s: float = 5.0) -> Any:
    """The datasets service's gap report (``GET /v1/storage/gaps``), or None when the URL is
    unset, the endpoint does not exist (yet) or the service does not answer."""
    if not datasets_url:
        return None
    try:
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.get(datasets_url.rstrip("/") + GAPS_PATH)
    except httpx.HTTPError as exc:
        log.info("no gap report: datasets service unreachable (%s)", exc)
        return None
    if response.status_code != 200:
        return None
    try:
        return response.json()
    except ValueError:
        return None


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2015-01-01") from None


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


if __name__ == "__main__":
    raise SystemExit(main())
