"""``python -m sextant_ingest.backfill`` -> real tansu -> a datasets process -> Parquet lake,
including a kill -9 of the backfill mid-run and a rerun that resumes from the checkpoint."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from sextant_common.events import Interval
from sextant_ingest.backfill import load_universe
from sextant_ingest.providers.base import BarQuery
from sextant_ingest.providers.simulated import SimulatedProvider
from tests.integration.lake_probe import lake_counts
from tests.integration.test_bus_to_lake import Datasets
from tests.support import wait_for

pytestmark = pytest.mark.integration

SYMBOLS = 10
START, END = "2015-01-01", "2025-01-01"


@pytest.fixture
def datasets(kafka_bootstrap: str, tmp_path: Path) -> Iterator[Datasets]:
    service = Datasets(kafka_bootstrap, tmp_path / "datasets")
    try:
        yield service
    finally:
        service.process.stop()


def expected_rows() -> int:
    """Bars the simulated market has for the first SYMBOLS tickers over the range."""
    members = load_universe()[:SYMBOLS]
    provider = SimulatedProvider(seed=7, universe=[m.instrument() for m in members])
    query = BarQuery(
        Interval.D1,
        datetime.fromisoformat(START).replace(tzinfo=UTC),
        datetime.fromisoformat(END).replace(tzinfo=UTC),
    )

    async def count() -> int:
        return sum([1 async for _ in provider.history(query)])

    return asyncio.run(count())


def backfill_argv(checkpoint: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "sextant_ingest.backfill",
        "--universe",
        "default",
        "--start",
        START,
        "--end",
        END,
        "--provider",
        "simulated",
        "--checkpoint",
        str(checkpoint),
        "--symbols",
        str(SYMBOLS),
        "--json",
        *extra,
    ]


def backfill_env(bootstrap: str, data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SEXTANT_KAFKA_BOOTSTRAP": bootstrap,
        "SEXTANT_DATA_DIR": str(data_dir),
        "SEXTANT_LOG_JSON": "false",
        "SEXTANT_DATASETS_URL": "",
    }


def run_backfill(bootstrap: str, tmp_path: Path, checkpoint: Path) -> dict[str, object]:
    result = subprocess.run(
        backfill_argv(checkpoint),
        env=backfill_env(bootstrap, tmp_path / "ingest"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    summary: dict[str, object] = orjson.loads(result.stdout.strip().splitlines()[-1])
    return summary


def lake_settles_at(datasets: Datasets, rows: int) -> tuple[int, int]:
    counts = wait_for(
        lambda: (c := lake_counts(datasets.lake))[0] >= rows and c, 90, f"{rows} rows in lake"
    )
    time.sleep(2)  # nothing more trickles in once the consumer has caught up
    assert lake_counts(datasets.lake) == counts
    return counts


def test_ten_symbol_backfill_lands_in_the_lake_exactly(
    datasets: Datasets, kafka_bootstrap: str, tmp_path: Path
) -> None:
    expected = expected_rows()
    summary = run_backfill(kafka_bootstrap, tmp_path, tmp_path / "ck.jsonl")
    assert (summary["done"], summary["skipped"], summary["failed_count"]) == (SYMBOLS, 0, 0)
    assert summary["rows"] == expected
    assert lake_settles_at(datasets, expected) == (expected, expected)
    assert len((tmp_path / "ck.jsonl").read_bytes().splitlines()) == SYMBOLS


def test_kill_9_mid_backfill_then_rerun_duplicates_nothing(
    datasets: Datasets, kafka_bootstrap: str, tmp_path: Path
) -> None:
    expected = expected_rows()
    checkpoint = tmp_path / "ck.jsonl"
    # --pause spreads the 10 symbols over ~3 s so the kill lands mid-run, between and
    # inside symbols alike.
    process = subprocess.Popen(
        backfill_argv(checkpoint, "--pause", "0.3", "--concurrency", "1"),
        env=backfill_env(kafka_bootstrap, tmp_path / "ingest"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: checkpoint.exists() and len(checkpoint.read_bytes().splitlines()) >= 3,
            60,
            "3 symbols checkpointed",
            every=0.02,
        )
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    finished = len(checkpoint.read_bytes().splitlines())
    assert 3 <= finished < SYMBOLS, "the kill came too late to prove anything"

    summary = run_backfill(kafka_bootstrap, tmp_path, checkpoint)
    assert summary["skipped"] == finished
    assert summary["done"] == SYMBOLS - finished
    assert summary["failed_count"] == 0
    rows, distinct = lake_settles_at(datasets, expected)
    assert (rows, distinct) == (expected, expected)
    assert len(checkpoint.read_bytes().splitlines()) == SYMBOLS
