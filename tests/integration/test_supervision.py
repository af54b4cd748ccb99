"""A supervised stack: "up" means the history is queryable, and a kill -9 of datasets loses no bar.

One stack for the module (broker, datasets, gateway, ingest with 1 s live bars) under a
:class:`Supervisor` polling in a background thread, as `make run` does in its main thread.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from sextant_common import topics
from sextant_common.broker_launcher import start_broker
from sextant_common.devstack import (
    Backoff,
    StackUrls,
    Supervisor,
    start_services,
    wait_until_queryable,
)
from sextant_common.events import Bar
from sextant_common.telemetry import read_offsets
from tests.support import (
    Ports,
    auth_for,
    create_test_users,
    register_gateway,
    service_env,
    spec,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@dataclass
class SupervisedStack:
    bootstrap: str
    ports: Ports
    supervisor: Supervisor
    log: list[str]
    up_after_s: float
    """From the first process start to :func:`wait_until_queryable` returning."""
    spx_at_up: httpx.Response
    """The gateway's answer for SPX right when the stack said it was up."""

    @property
    def datasets(self) -> str:
        return f"http://127.0.0.1:{self.ports.datasets}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SupervisedStack]:
    broker = start_broker(log_file=tmp_path_factory.mktemp("broker") / "tansu.log")
    bootstrap = broker.bootstrap
    ports = Ports.allocate()
    data_dir: Path = tmp_path_factory.mktemp("supervised")
    env = {
        **os.environ,
        **service_env(
            bootstrap,
            data_dir,
            ports,
            SEXTANT_INGEST_LIVE_INTERVAL="1s",
            SEXTANT_INGEST_HISTORY_DAYS="10",
            SEXTANT_DATASETS_GROUP=f"datasets-supervised-{uuid.uuid4().hex[:6]}",
        ),
    }
    log: list[str] = []
    gateway = f"http://127.0.0.1:{ports.gateway}"
    register_gateway(gateway, create_test_users(data_dir))  # before the gateway opens its store
    stop = threading.Event()
    started = time.monotonic()
    services = start_services(
        [spec(name, getattr(ports, name)) for name in ("datasets", "gateway", "ingest")],
        env,
        sink=log.append,
    )
    supervisor = Supervisor(services, backoff=Backoff(initial_s=0.5), sink=log.append)
    # Restarted children die with the thread that forked them: this one lives until teardown.
    thread = threading.Thread(target=supervisor.run, args=(stop,), daemon=True)
    thread.start()
    try:
        urls = StackUrls(
            *(f"http://127.0.0.1:{p}" for p in (ports.ingest, ports.datasets, ports.gateway))
        )
        viewer = auth_for(gateway, "viewer")
        wait_until_queryable(urls, 180, auth=viewer)
        up_after_s = time.monotonic() - started
        spx = httpx.get(
            f"{urls.gateway}/api/v1/bars", params={"symbol": "SPX"}, timeout=30, auth=viewer
        )
        yield SupervisedStack(bootstrap, ports, supervisor, log, up_after_s, spx)
    finally:
        stop.set()
        thread.join(5)
        supervisor.stop()
        broker.stop()


def test_up_means_the_shipped_history_answers_through_the_gateway(
    stack: SupervisedStack,
) -> None:
    """Before: every /health was 200 (and "Sextant is up" printed) while SPX was still 404."""
    assert stack.spx_at_up.status_code == 200, stack.spx_at_up.text
    body = stack.spx_at_up.json()
    assert body["source"] == "shipped" and body["count"] == 5031  # all of it, not a first flush
    ready = httpx.get(f"{stack.datasets}/ready").json()
    assert ready["status"] == "ready" and ready["failing"] == []


def test_kill_9_of_datasets_is_restarted_and_every_live_bar_lands_once(
    stack: SupervisedStack,
) -> None:
    wait_for(lambda: _live_counts(stack, "BTC-USD") >= 3, 60, "live BTC-USD bars in the lake")
    datasets = stack.supervisor.services[0]
    assert datasets.spec.name == "datasets"
    old_pid = datasets.process.pid

    os.kill(old_pid, signal.SIGKILL)  # no flush, no commit, no goodbye
    killed_at = time.time()
    wait_for(lambda: stack.supervisor.restarts.get("datasets") == 1, 30, "datasets restarted")
    wait_for(lambda: _healthy(stack.datasets), 60, "restarted datasets alive")
    back_at = time.time()
    assert datasets.process.pid != old_pid

    died = [line for line in stack.log if line.startswith("[supervisor] datasets")]
    assert f"(pid {old_pid}) died: signal SIGKILL" in died[0]
    assert "restart attempt 1 in 0.5s" in died[0]
    assert "datasets restarted (attempt 1" in died[1]

    # Everything published up to now must end up in the lake exactly once.
    cut = asyncio.run(read_offsets(stack.bootstrap, topics.MD_BARS)).end
    published = asyncio.run(_live_bars_published(stack.bootstrap, cut))
    wait_for(lambda: _committed_through(stack.datasets, cut), 90, f"datasets to commit {cut}")

    in_downtime = [
        ts
        for series in published.values()
        for ts in series
        if killed_at <= ts + 1 <= back_at  # bar end within the downtime
    ]
    assert len(in_downtime) >= 2, f"no live bar published while datasets was down: {published}"
    for symbol, expected in published.items():
        stored = _live_bar_starts(stack, symbol)
        last = max(expected)
        window = [ts for ts in stored if ts <= last]  # the lake may hold newer bars, after `cut`
        duplicates = [ts for ts, n in Counter(window).items() if n > 1]
        assert not duplicates, f"{symbol}: stored twice: {duplicates}"
        missing = sorted(set(expected) - set(window))
        assert not missing, f"{symbol}: published but not stored: {missing}"
        assert sorted(window) == sorted(expected), symbol
    assert stack.supervisor.restarts == {"datasets": 1}
    print(
        f"stack up after {stack.up_after_s:.1f}s; datasets down {back_at - killed_at:.1f}s, "
        f"{len(in_downtime)} live bars published meanwhile, "
        f"{sum(map(len, published.values()))} live bars of {len(published)} symbols compared"
    )


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _committed_through(base: str, cut: dict[int, int]) -> bool:
    try:
        body: dict[str, Any] = httpx.get(f"{base}/ready", timeout=5).json()
    except httpx.HTTPError:
        return False
    committed = body["detail"].get("lake_caught_up", {}).get("committed", {})
    return all(int(committed.get(str(p), 0)) >= end for p, end in cut.items())


def _live_bar_starts(stack: SupervisedStack, symbol: str) -> list[float]:
    response = httpx.get(
        f"{stack.datasets}/v1/bars",
        params={"symbol": symbol, "interval": "1s", "source": "simulated"},
        timeout=30,
    )
    if response.status_code == 404:
        return []
    response.raise_for_status()
    return [_epoch(bar["ts_event"]) for bar in response.json()["bars"]]


def _live_counts(stack: SupervisedStack, symbol: str) -> int:
    return len(_live_bar_starts(stack, symbol))


async def _live_bars_published(bootstrap: str, cut: dict[int, int]) -> dict[str, list[float]]:
    """Start (epoch seconds) of every 1 s bar on md.bars.v1 below ``cut``, per instrument (read
    with a consumer of its own, outside any group)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: dict[str, list[float]] = defaultdict(list)
    try:
        partitions = [TopicPartition(topics.MD_BARS, p) for p, end in cut.items() if end > 0]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        remaining = set(partitions)
        while remaining:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, records in fetched.items():
                for record in records:
                    if record.offset >= cut[tp.partition]:
                        remaining.discard(tp)
                        break
                    bar = Bar.model_validate_json(record.value or b"")
                    if bar.interval.value == "1s":
                        found[bar.instrument_id].append(bar.ts_event.timestamp())
                if records and records[-1].offset + 1 >= cut[tp.partition]:
                    remaining.discard(tp)
    finally:
        await consumer.stop()
    return dict(found)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()
