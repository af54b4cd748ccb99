"""Backfill benchmark: 500 symbols x 10 years of simulated daily bars through a fresh tansu
broker into a datasets service process, timed until the lake holds every row.

Target (BENCHMARKS.md): < 60 s; the seed took < 1 hour. Also measures generation alone (the
simulated model + wire encoding, no broker) and publishing alone (all acks back), so a slow
run says which stage to look at. Prints one JSON object; never asserts wall-clock numbers.
Run from the repository root: ``.venv/bin/python bench/backfill.py [--symbols N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sextant_common.broker_launcher import start_broker
from sextant_common.bus import ensure_topics
from sextant_common.devstack import start_services, stop_services
from sextant_common.events import Interval
from sextant_common.producer import EventProducer
from sextant_common.settings import CommonSettings
from sextant_ingest.backfill import Checkpoint, load_universe, run_backfill
from sextant_ingest.backfill.encode import encode_page
from sextant_ingest.backfill.sources import SimulatedSource
from sextant_ingest.providers.base import BarQuery
from sextant_ingest.providers.simulated import SimulatedProvider
from tests.integration.lake_probe import lake_counts
from tests.support import Ports, service_env, spec

START = datetime(2015, 1, 1, tzinfo=UTC)
END = datetime(2025, 1, 1, tzinfo=UTC)
TARGET_S = 60.0


async def generation_only(provider: SimulatedProvider, tickers: list[str]) -> tuple[int, float]:
    """(rows, seconds) to run the model and encode every bar, without a broker."""
    started = time.perf_counter()
    rows = 0
    for ticker in tickers:
        plan = provider.transform_query(BarQuery(Interval.D1, START, END, (ticker,)))
        async for raw in provider.aextract_data(plan, plan.instruments[0]):
            rows += len(encode_page(plan, raw, provider.name))
    return rows, time.perf_counter() - started


async def backfill(bootstrap: str, provider: SimulatedProvider, tickers: list[str], ck: Path):
    await ensure_topics(CommonSettings(kafka_bootstrap=bootstrap))
    async with EventProducer(bootstrap) as producer:
        source = SimulatedSource(provider, producer, START, END)
        return await run_backfill(tickers, source, Checkpoint(ck, "bench"), concurrency=4)


def written(metrics_url: str) -> float:
    """Bars the datasets service has made durable, from its Prometheus counter."""
    for line in httpx.get(metrics_url, timeout=5).text.splitlines():
        if line.startswith("sextant_lake_bars_written_total "):
            return float(line.split()[1])
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=500)
    args = parser.parse_args()
    tickers = [m.ticker for m in load_universe()[: args.symbols]]
    provider = SimulatedProvider(seed=7, universe=[m.instrument() for m in load_universe()])
    asyncio.run(generation_only(provider, tickers[:1]))  # warm the shared market path
    gen_rows, gen_s = asyncio.run(generation_only(provider, tickers))
    print(f"generation: {gen_rows:,} rows in {gen_s:.1f} s", file=sys.stderr, flush=True)

    broker = start_broker()
    results: dict[str, object] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data_dir = Path(tmp)
            ports = Ports.allocate()
            env = {
                **os.environ,
                **service_env(
                    broker.bootstrap,
                    data_dir,
                    ports,
                    SEXTANT_DATASETS_GROUP=f"bench-backfill-{uuid.uuid4().hex[:6]}",
                    SEXTANT_LAKE_FLUSH_ROWS=os.environ.get("BENCH_LAKE_FLUSH_ROWS", "250000"),
                ),
            }
            asyncio.run(ensure_topics(CommonSettings(kafka_bootstrap=broker.bootstrap)))
            services = start_services([spec("datasets", ports.datasets)], env, sink=lambda _: None)
            try:
                time.sleep(3)  # let the consumer join its group before the clock starts
                metrics = f"http://127.0.0.1:{ports.datasets}/metrics"
                started = time.perf_counter()
                summary = asyncio.run(
                    backfill(broker.bootstrap, provider, tickers, data_dir / "ck.jsonl")
                )
                published_s = time.perf_counter() - started
                print(summary.text(), file=sys.stderr, flush=True)
                deadline = started + 600
                while written(metrics) < summary.rows and time.perf_counter() < deadline:
                    time.sleep(0.05)  # cheap poll; DuckDB verifies the lake once at the end
                elapsed = time.perf_counter() - started
                rows, distinct = lake_counts(data_dir / "lake")
            finally:
                stop_services(services)
    finally:
        broker.stop()
    results = {
        "backfill_500x10y_daily": {
            "symbols": len(tickers),
            "rows_published": summary.rows,
            "lake_rows": rows,
            "lake_distinct_keys": distinct,
            "exact": rows == distinct == summary.rows,
            "seconds_to_lake": round(elapsed, 2),
            "rows_per_s": round(rows / elapsed),
            "publish_seconds": round(published_s, 2),
            "generation_only_seconds": round(gen_s, 2),
            "generation_rows_per_s": round(gen_rows / gen_s),
            "target_s": TARGET_S,
            "ratio_target_over_ours": round(TARGET_S / elapsed, 2),
        }
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
