"""The job runner against a real broker: one job's failure (oversize result, unserializable
result, an exception without a message, a failing loop) never stops the runner."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from sextant_common import topics, tracecontext
from sextant_common.events import DeadLetter, JobEvent, JobRequest, JobStatus
from sextant_quant.jobs.runner import Handler, JobQueueFull, JobRunner, Progress
from sextant_quant.jobs.store import FileJobStore

pytestmark = [pytest.mark.integration]


@contextlib.asynccontextmanager
async def running(
    bootstrap: str, root: Path, handlers: dict[str, Handler], **options: Any
) -> AsyncIterator[JobRunner]:
    runner = JobRunner(
        bootstrap, f"g{uuid.uuid4().hex[:8]}", FileJobStore(root), handlers, **options
    )
    task = asyncio.create_task(runner.run())
    try:
        await until(lambda: runner.running, "runner started")
        yield runner
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def until(check: Callable[[], object], what: str, timeout_s: float = 30.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not check():  # noqa: ASYNC110 - the state lives in the runner's files
            await asyncio.sleep(0.05)
    assert check(), what


async def run_job(runner: JobRunner, store_root: Path, kind: str, **params: Any) -> JobEvent:
    job_id = uuid.uuid4().hex
    await runner.submit(
        JobRequest(job_id=job_id, kind=kind, params=params, ts_requested=datetime.now(UTC))
    )

    def final() -> JobEvent | None:
        event = latest(store_root, job_id)
        return event if event and event.status in (JobStatus.SUCCEEDED, JobStatus.FAILED) else None

    async with asyncio.timeout(30):
        while (event := final()) is None:  # noqa: ASYNC110 - polls the runner's files
            await asyncio.sleep(0.05)
    return event


def latest(store_root: Path, job_id: str) -> JobEvent | None:
    """The job's state as the runner last wrote it to disk (a fresh store reads the file)."""
    return FileJobStore(store_root).get(job_id)


def handlers(**kinds: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> dict[str, Handler]:
    def wrap(fn: Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]) -> Handler:
        async def handler(params: dict[str, Any], progress: Progress) -> dict[str, Any]:
            return await fn(params)

        return handler

    return {kind: wrap(fn) for kind, fn in kinds.items()}


async def big(params: dict[str, Any]) -> dict[str, Any]:
    # ~2.5 MB of JSON: over the producer's 1 MB max request, which killed the runner before.
    grid = np.linspace(0, 1, 250_000).reshape(1000, 250)
    return {"best": {"pair": [5, 50]}, "grid": grid}


async def small(params: dict[str, Any]) -> dict[str, Any]:
    return {"answer": 42}


async def no_message(params: dict[str, Any]) -> dict[str, Any]:
    raise httpx.ConnectTimeout("")


async def unserializable(params: dict[str, Any]) -> dict[str, Any]:
    return {"oops": object()}


async def test_a_result_too_large_for_an_event_is_stored_and_the_runner_goes_on(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    async with running(kafka_bootstrap, tmp_path, handlers(big=big, small=small)) as runner:
        stored = await run_job(runner, tmp_path, "big")
        assert stored.status is JobStatus.SUCCEEDED, stored.error
        assert stored.result is None and stored.result_ref
        assert stored.result_summary == {"best": {"pair": [5, 50]}}
        payload = FileJobStore(tmp_path).result(stored.result_ref)
        assert payload is not None and len(payload) > 1_000_000
        assert np.array(orjson.loads(payload)["grid"]).shape == (1000, 250)
        assert "GET the job" in stored.message
        after = await run_job(runner, tmp_path, "small")
        assert after.status is JobStatus.SUCCEEDED and after.result == {"answer": 42}
        assert runner.running and runner.restarts == 0


async def test_a_failing_job_fails_alone_and_says_why(kafka_bootstrap: str, tmp_path: Path) -> None:
    kinds = handlers(no_message=no_message, unserializable=unserializable, small=small)
    async with running(kafka_bootstrap, tmp_path, kinds) as runner:
        timeout = await run_job(runner, tmp_path, "no_message")
        assert timeout.status is JobStatus.FAILED
        assert timeout.error == "internal error: ConnectTimeout (no detail)"
        odd = await run_job(runner, tmp_path, "unserializable")
        assert odd.status is JobStatus.FAILED
        assert odd.error and "could not be serialized" in odd.error and "object" in odd.error
        assert (await run_job(runner, tmp_path, "small")).status is JobStatus.SUCCEEDED
        assert runner.restarts == 0


async def test_the_consumer_loop_restarts_after_a_failure(
    kafka_bootstrap: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running(
        kafka_bootstrap, tmp_path, handlers(small=small), restart_backoff_s=(0.1, 0.5)
    ) as runner:
        original = runner._handle
        calls = 0

        async def flaky(record: ConsumerRecord[bytes, bytes]) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise RuntimeError("commit refused by the broker")
            await original(record)

        monkeypatch.setattr(runner, "_handle", flaky)
        # The first delivery breaks the loop; the restarted consumer gets it again (not
        # committed) and runs it.
        event = await run_job(runner, tmp_path, "small")
        assert event.status is JobStatus.SUCCEEDED
        assert runner.restarts == 1
        assert runner.last_error == "RuntimeError: commit refused by the broker"
        assert runner.running


async def test_a_full_queue_refuses_new_jobs_with_a_retry_delay(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    release = asyncio.Event()

    async def blocked(params: dict[str, Any]) -> dict[str, Any]:
        await release.wait()
        return {}

    async with running(kafka_bootstrap, tmp_path, handlers(blocked=blocked), queue_max=1) as runner:

        def request() -> JobRequest:
            job_id = uuid.uuid4().hex
            return JobRequest(job_id=job_id, kind="blocked", ts_requested=datetime.now(UTC))

        first = request()
        await runner.submit(first)
        await until(
            lambda: (e := latest(tmp_path, first.job_id)) and e.status is JobStatus.RUNNING,
            "first job running",
        )
        await runner.submit(request())  # waits: the one slot
        with pytest.raises(JobQueueFull, match="1 jobs are waiting") as refused:
            await runner.submit(request())
        assert 1 <= refused.value.retry_after_s <= 300
        release.set()
        await until(lambda: runner.pending == 0, "queue drained")
        await runner.submit(request())  # room again


async def _records(
    bootstrap: str, topic: str, partitions: int = 1
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic`` up to its end (none while the topic is not known yet)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not parts:  # not created yet (its first dead letter creates it): ask again later
            return []
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        records: list[ConsumerRecord[bytes, bytes]] = []
        while len(records) < sum(ends.values()):
            for batch in (await consumer.getmany(timeout_ms=500)).values():
                records += batch
        return records
    finally:
        await consumer.stop()


async def test_requests_it_cannot_run_are_dead_lettered_and_the_runner_goes_on(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    async with running(kafka_bootstrap, tmp_path, handlers(small=small)) as runner:
        producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
        await producer.start()
        try:
            garbage = (b"{not json", b"job-x", [("origin", b"outside")])
            unknown = JobRequest(
                job_id="job-y", kind="teleport", params={}, ts_requested=datetime.now(UTC)
            )
            await producer.send_and_wait(
                topics.JOBS_REQUESTS, garbage[0], key=garbage[1], headers=garbage[2]
            )
            await producer.send_and_wait(topics.JOBS_REQUESTS, unknown.to_bytes(), key=b"job-y")
        finally:
            await producer.stop()
        assert (await run_job(runner, tmp_path, "small")).status is JobStatus.SUCCEEDED

        # The requests may sit in other partitions than the job's: wait for both letters.
        async with asyncio.timeout(30):
            while len(records := await _records(kafka_bootstrap, topics.DLQ)) < 2:  # noqa: ASYNC110 - polls the broker
                await asyncio.sleep(0.2)
        letters = [DeadLetter.model_validate_json(r.value or b"") for r in records]
        by_key = {letter.key: letter for letter in letters}
        assert set(by_key) == {b"job-x", b"job-y"}
        assert by_key[b"job-x"].raw == b"{not json"
        assert by_key[b"job-x"].original_headers == [("origin", b"outside")]
        assert "json_invalid" in by_key[b"job-x"].error
        assert "unknown job kind 'teleport'" in by_key[b"job-y"].error
        assert all(letter.topic == topics.JOBS_REQUESTS for letter in letters)


async def test_job_events_continue_the_requests_trace(kafka_bootstrap: str, tmp_path: Path) -> None:
    parent = "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01"
    async with running(kafka_bootstrap, tmp_path, handlers(small=small)) as runner:
        tracecontext.use(parent)  # the submitting request's trace
        event = await run_job(runner, tmp_path, "small")
    assert event.status is JobStatus.SUCCEEDED
    requests = await _records(kafka_bootstrap, topics.JOBS_REQUESTS)
    events = [
        r
        for r in await _records(kafka_bootstrap, topics.JOBS_EVENTS)
        if r.key == event.job_id.encode()
    ]
    assert requests and len(events) >= 3  # queued, running, succeeded
    for record in [*requests, *events]:
        headers = dict(record.headers)
        assert tracecontext.parse(headers["traceparent"]) == "ab" * 16, record.topic
        assert headers["sextant.schema_version"] == b"1"
    assert {dict(r.headers)["sextant.event_type"] for r in events} == {b"JobEvent"}
