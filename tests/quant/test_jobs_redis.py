"""Quant job state in a real Redis (SEXTANT_REDIS_URL): the store on its own, then two quant
replicas in one consumer group sharing one Redis, one broker and one datasets service.

Uses the Redis on 127.0.0.1:6379 when one answers, else starts ``redis-server`` on a free port.
Skipped only when neither exists, and then failed instead when ``CI`` is set. Every test uses a
key prefix of its own, so a shared Redis holds nothing from another run under it.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

from sextant_common import topics
from sextant_common.broker_launcher import free_port
from sextant_common.devstack import ServiceProcess, start_services, stop_services
from sextant_common.events import JobEvent, JobStatus
from sextant_quant.jobs.store import RedisJobStore, result_ref
from tests.conftest import Stack
from tests.integration.test_stack import spx_2008
from tests.support import metric_value, private_quant, spec, wait_for

BACKTEST = {"symbol": "SPX", "strategy": "50SMA.200EMA", "fees": 0.001}
RUN_METRIC = "sextant_quant_jobs_run_total"
RUN_LABELS = 'kind="backtest",status="succeeded"'


@pytest.fixture
def prefix() -> str:
    return f"sextant:jobs:test{uuid.uuid4().hex[:8]}:"


def _event(job_id: str, status: JobStatus, **fields: Any) -> JobEvent:
    return JobEvent(job_id=job_id, kind="backtest", status=status, ts=datetime.now(UTC), **fields)


# --- the store on its own -------------------------------------------------------------------------


def test_two_stores_on_one_redis_read_each_others_jobs_and_results(
    redis_url: str, prefix: str
) -> None:
    writer = RedisJobStore(redis_url, prefix=prefix, ttl_s=600)
    reader = RedisJobStore(redis_url, prefix=prefix, ttl_s=600)
    job_id = uuid.uuid4().hex
    assert reader.get(job_id) is None
    writer.put(_event(job_id, JobStatus.RUNNING, progress=0.5))
    running = reader.get(job_id)
    assert running is not None and running.status is JobStatus.RUNNING
    assert running.progress == 0.5

    ref = writer.put_result(job_id, b'{"equity": [1, 2, 3]}')
    assert ref == result_ref(job_id)
    writer.put(_event(job_id, JobStatus.SUCCEEDED, progress=1.0, result_ref=ref))
    done = reader.get(job_id)
    assert done is not None and done.status is JobStatus.SUCCEEDED
    assert reader.result(ref) == b'{"equity": [1, 2, 3]}'
    # A reference never reaches another key: no folders, no other job's state.
    assert reader.result(f"../{ref}") is None
    assert reader.result(f"{job_id}.json") is None
    assert reader.result(result_ref(uuid.uuid4().hex)) is None

    # Namespaced keys: the state and the large result are separate keys, both with a TTL.
    raw = redis.Redis.from_url(redis_url)
    assert sorted(raw.keys(f"{prefix}{job_id}*")) == [
        f"{prefix}{job_id}".encode(),
        f"{prefix}{job_id}:result".encode(),
    ]
    for key in (f"{prefix}{job_id}", f"{prefix}{job_id}:result"):
        assert 0 < raw.ttl(key) <= 600, key
    for store in (writer, reader):
        store.close()


def test_the_queue_bound_counts_jobs_waiting_on_every_replica(redis_url: str, prefix: str) -> None:
    one = RedisJobStore(redis_url, prefix=prefix)
    two = RedisJobStore(redis_url, prefix=prefix)
    assert one.enqueue("a", limit=2, ttl_s=60) is None
    assert two.enqueue("b", limit=2, ttl_s=60) is None
    assert one.waiting(60) == two.waiting(60) == 2
    assert two.enqueue("c", limit=2, ttl_s=60) == 2  # full, counted across both
    assert one.enqueue("c", limit=2, ttl_s=60) == 2
    two.dequeue("a")  # replica two's runner took replica one's job
    assert one.enqueue("c", limit=2, ttl_s=60) is None
    assert two.waiting(60) == 2
    # A job no runner took within the TTL stops counting.
    assert one.waiting(0) == 0
    for store in (one, two):
        store.close()


def test_a_job_ttl_must_be_positive(redis_url: str) -> None:
    with pytest.raises(ValueError, match="TTL must be > 0"):
        RedisJobStore(redis_url, ttl_s=0)


# --- two replicas ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stack(full_stack: Stack) -> Stack:
    wait_for(lambda: spx_2008(full_stack), 90, "SPX history stored")
    return full_stack


def _job_ids_per_partition(partitions: int, per_partition: int) -> list[list[str]]:
    """Job ids whose requests land on each partition of ``jobs.requests.v1`` (the producer's
    default partitioner over the key, the job id), ``per_partition`` each."""
    partitioner = DefaultPartitioner()
    chosen: list[list[str]] = [[] for _ in range(partitions)]
    while any(len(ids) < per_partition for ids in chosen):
        job_id = uuid.uuid4().hex
        ids = chosen[partitioner(job_id.encode(), list(range(partitions)), [])]
        if len(ids) < per_partition:
            ids.append(job_id)
    return chosen


async def _create_requests_topic(bootstrap: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topics.JOBS_REQUESTS, partitions, 1)])
    finally:
        await admin.close()


def _final(base: str, job_id: str, timeout_s: float = 120) -> dict[str, Any]:
    def done() -> dict[str, Any] | None:
        body: dict[str, Any] = httpx.get(f"{base}/v1/backtests/{job_id}", timeout=10).json()
        return body if body.get("status") in ("succeeded", "failed") else None

    return wait_for(done, timeout_s, f"backtest {job_id} finished on {base}")


def _runs(base: str) -> float:
    return metric_value(base, RUN_METRIC, RUN_LABELS)


def _submit(base: str, job_id: str) -> None:
    answer = httpx.post(
        f"{base}/v1/backtests", params={"job_id": job_id}, json=BACKTEST, timeout=30
    )
    assert answer.status_code == 202, answer.text


@pytest.mark.integration
@pytest.mark.slow
def test_two_replicas_share_one_job_stream_and_its_results_outlive_a_replica(
    kafka_bootstrap: str, stack: Stack, redis_url: str, prefix: str, tmp_path: Path
) -> None:
    # Two partitions, so the group gives each replica one (the declared count may be lower).
    asyncio.run(_create_requests_topic(kafka_bootstrap, 2))
    env = {
        **os.environ,
        "SEXTANT_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "SEXTANT_DATASETS_URL": stack.datasets_url,
        "SEXTANT_LOG_JSON": "false",
        "SEXTANT_REDIS_URL": redis_url,
        "SEXTANT_QUANT_JOBS_REDIS_PREFIX": prefix,
        "SEXTANT_QUANT_JOBS_GROUP": f"quant-{uuid.uuid4().hex[:8]}",
        # every backtest result (an equity curve of 5,031 points) goes to the store, not an event
        "SEXTANT_QUANT_JOB_INLINE_RESULT_MAX_BYTES": "2048",
    }
    replicas: list[ServiceProcess] = []
    urls: list[str] = []
    try:
        for name in ("a", "b"):
            port = free_port()
            # A data dir each: whatever they share, they share through Redis.
            replica_env = {
                "SEXTANT_QUANT_PORT": str(port),
                "SEXTANT_DATA_DIR": str(tmp_path / name),
            }
            replicas += start_services([spec("quant", port, replica_env)], env, sink=lambda _: None)
            urls.append(f"http://127.0.0.1:{port}")
        a, b = urls

        # Wait until the group has rebalanced: one job per partition, until both replicas ran one.
        def both_run() -> bool | None:
            if _runs(a) > 0 and _runs(b) > 0:
                return True
            for ids in _job_ids_per_partition(2, 1):
                _submit(a, ids[0])
                _final(a, ids[0])
            return None

        wait_for(both_run, 90, "both replicas run jobs from the group", every=0.5)
        before = {url: _runs(url) for url in urls}

        per_partition = _job_ids_per_partition(2, 3)
        job_ids = [job_id for ids in per_partition for job_id in ids]
        for job_id in job_ids:
            _submit(a, job_id)  # all to replica A
        results: dict[str, bytes] = {}
        for job_id in job_ids:
            states = [_final(url, job_id) for url in urls]
            for state in states:
                assert state["status"] == "succeeded", state
                assert state["result_ref"] == f"{job_id}.result.json"
                assert state["result"]["bars"] == 5031  # the stored result, spliced in
            assert states[0] == states[1]
            results[job_id] = httpx.get(f"{b}/v1/backtests/{job_id}").content
        ran = {url: _runs(url) - before[url] for url in urls}
        assert ran[a] == ran[b] == 3, ran  # one partition each: the jobs split across replicas

        # kill -9 replica B: every finished job reads the same from A and from a new replica.
        replicas[1].kill()
        for job_id in job_ids:
            assert httpx.get(f"{a}/v1/backtests/{job_id}").content == results[job_id]
        with private_quant(
            kafka_bootstrap,
            stack.datasets_url,
            tmp_path / "c",
            SEXTANT_REDIS_URL=redis_url,
            SEXTANT_QUANT_JOBS_REDIS_PREFIX=prefix,
            SEXTANT_QUANT_JOBS_GROUP=env["SEXTANT_QUANT_JOBS_GROUP"],
        ) as restarted:
            for job_id in job_ids:
                assert httpx.get(f"{restarted}/v1/backtests/{job_id}").content == results[job_id]
    finally:
        stop_services(replicas)
