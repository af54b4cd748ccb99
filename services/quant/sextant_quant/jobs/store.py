"""Where the quant service keeps job state: the latest event of every job, the results too large
to travel in an event, and the jobs submitted but not started yet (the bounded queue).

Two implementations of one :class:`JobStore` interface, chosen by :func:`open_job_store`:

- :class:`FileJobStore` (no ``SEXTANT_REDIS_URL``): one JSON file per job under the data dir,
  cached in memory; the waiting jobs are counted in this process. Enough for one replica.
- :class:`RedisJobStore` (``SEXTANT_REDIS_URL`` set): every replica reads and writes the same
  keys, so a job accepted by one replica and run by another reads the same from both, and the
  queue bound counts the jobs waiting across all replicas. State survives quant restarts.

The interface is synchronous on purpose: a call is one local round trip (or one small file), and
the job runner moves the large writes off the event loop with ``asyncio.to_thread``.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sextant_common.events import JobEvent

if TYPE_CHECKING:
    from sextant_quant.settings import QuantSettings

RESULT_SUFFIX = ".result.json"
"""A stored result's reference is ``<job_id>.result.json`` in both stores."""


def result_ref(job_id: str) -> str:
    """The reference under which a job's stored result is found (the same in every store)."""
    return f"{job_id}{RESULT_SUFFIX}"


def _job_id_of(ref: str) -> str | None:
    """The job id a result reference names, or None when ``ref`` is not one (a reference never
    leaves the store: no folders, no other suffix)."""
    name = Path(ref).name
    if name != ref or not name.endswith(RESULT_SUFFIX):
        return None
    job_id = name.removesuffix(RESULT_SUFFIX)
    return job_id if job_id.isalnum() else None


class JobStore(Protocol):
    """Job state shared by the API routes and the job runner."""

    def put(self, event: JobEvent) -> None:
        """Record ``event`` as the job's latest state."""
        ...

    def get(self, job_id: str) -> JobEvent | None:
        """The job's latest event, or None for an unknown (or expired) id."""
        ...

    def put_result(self, job_id: str, payload: bytes) -> str:
        """Store a job's serialized result (JSON bytes); return its reference."""
        ...

    def result(self, ref: str) -> bytes | None:
        """The JSON bytes stored under ``ref`` (from :meth:`put_result`), or None if missing."""
        ...

    def enqueue(self, job_id: str, limit: int, ttl_s: float) -> int | None:
        """Count ``job_id`` as waiting to start unless ``limit`` jobs wait already; None when it
        was counted, else the number waiting. A job waiting longer than ``ttl_s`` seconds (its
        request was lost, or a runner crashed before taking it) is no longer counted."""
        ...

    def dequeue(self, job_id: str) -> None:
        """Stop counting ``job_id`` as waiting (a runner took it, or its submit failed)."""
        ...

    def waiting(self, ttl_s: float) -> int:
        """Jobs counted as waiting to start, not older than ``ttl_s`` seconds."""
        ...

    def close(self) -> None:
        """Release connections (the service is stopping)."""
        ...


def _write_atomically(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so a reader sees the old file or the whole new one."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


class FileJobStore:
    """Latest :class:`JobEvent` per job id in ``<root>/<job_id>.json``, a result too large for an
    event in ``<root>/<job_id>.result.json``; survives restarts of this one replica.

    The waiting jobs are counted per process: another replica neither sees nor counts them, so
    use :class:`RedisJobStore` for more than one replica.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._root.mkdir(parents=True, exist_ok=True)
        self._latest: dict[str, JobEvent] = {}
        self._waiting: dict[str, float] = {}

    def put(self, event: JobEvent) -> None:
        """Record ``event`` as the job's latest state (atomic file replace)."""
        self._latest[event.job_id] = event
        _write_atomically(self._root / f"{event.job_id}.json", event.to_bytes())

    def get(self, job_id: str) -> JobEvent | None:
        """The job's latest event, or None for an unknown id."""
        event = self._latest.get(job_id)
        if event is None:
            path = self._root / f"{job_id}.json"
            if path.is_file():
                event = JobEvent.model_validate_json(path.read_bytes())
                self._latest[job_id] = event
        return event

    def put_result(self, job_id: str, payload: bytes) -> str:
        """Store a job's serialized result (JSON bytes, atomic); return its reference, the
        file name relative to the store."""
        ref = result_ref(job_id)
        _write_atomically(self._root / ref, payload)
        return ref

    def result(self, ref: str) -> bytes | None:
        """The JSON bytes stored under ``ref`` (from :meth:`put_result`), or None if missing."""
        path = self._root / Path(ref).name  # a reference never leaves the store's folder
        return path.read_bytes() if path.is_file() else None

    def enqueue(self, job_id: str, limit: int, ttl_s: float) -> int | None:
        """See :meth:`JobStore.enqueue` (counted in this process only)."""
        waiting = self.waiting(ttl_s)
        if waiting >= limit:
            return waiting
        self._waiting[job_id] = time.monotonic()
        return None

    def dequeue(self, job_id: str) -> None:
        """See :meth:`JobStore.dequeue`."""
        self._waiting.pop(job_id, None)

    def waiting(self, ttl_s: float) -> int:
        """See :meth:`JobStore.waiting`."""
        cutoff = time.monotonic() - ttl_s
        for job_id in [j for j, t in self._waiting.items() if t < cutoff]:
            del self._waiting[job_id]
        return len(self._waiting)

    def close(self) -> None:
        """Nothing to release: every write is already on disk."""


class RedisJobStore:
    """Job state in Redis, shared by every replica (``redis-py``, synchronous client).

    Keys, all under ``prefix`` (default ``sextant:jobs:``):

    - ``<prefix><job_id>``: the job's latest event (JSON of :class:`JobEvent`);
    - ``<prefix><job_id>:result``: a result too large for an event (JSON), a key of its own so
      reading a job's state never loads it;
    - ``<prefix>waiting``: sorted set of the jobs submitted but not started, scored by submit
      time (Unix seconds), so the queue bound counts across replicas.

    Every job key expires ``ttl_s`` seconds after the job's last write, so a finished job (and
    its result) is kept that long; a running job refreshes its TTL at every progress event.
    A Redis error propagates: the API answers 5xx, the runner fails the job or restarts.
    """

    def __init__(self, url: str, *, prefix: str = "sextant:jobs:", ttl_s: int = 7 * 86_400):
        import redis  # only needed when Redis is configured

        if ttl_s <= 0:
            raise ValueError(f"the job TTL must be > 0 seconds, got {ttl_s}")
        self._redis = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._waiting_key = f"{prefix}waiting"

    def _key(self, job_id: str) -> str:
        return f"{self._prefix}{job_id}"

    def put(self, event: JobEvent) -> None:
        """Record ``event`` as the job's latest state (one ``SET .. EX``)."""
        self._redis.set(self._key(event.job_id), event.to_bytes(), ex=self._ttl_s)

    def get(self, job_id: str) -> JobEvent | None:
        """The job's latest event, or None for an unknown or expired id."""
        raw: bytes | None = self._redis.get(self._key(job_id))  # type: ignore[assignment]
        return None if raw is None else JobEvent.model_validate_json(raw)

    def put_result(self, job_id: str, payload: bytes) -> str:
        """Store a job's serialized result under its own key; return its reference."""
        self._redis.set(f"{self._key(job_id)}:result", payload, ex=self._ttl_s)
        return result_ref(job_id)

    def result(self, ref: str) -> bytes | None:
        """The JSON bytes stored under ``ref`` (from :meth:`put_result`), or None if missing."""
        job_id = _job_id_of(ref)
        if job_id is None:
            return None
        raw: bytes | None = self._redis.get(f"{self._key(job_id)}:result")  # type: ignore[assignment]
        return raw

    def enqueue(self, job_id: str, limit: int, ttl_s: float) -> int | None:
        """See :meth:`JobStore.enqueue`. Optimistic across replicas: add, then count, and take
        the job back out when the count passes ``limit``; two replicas racing for the last slot
        may both refuse, never both admit."""
        now = time.time()
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(self._waiting_key, "-inf", now - ttl_s)
            pipe.zadd(self._waiting_key, {job_id: now})
            pipe.zcard(self._waiting_key)
            *_, count = pipe.execute()
        if count > limit:
            self.dequeue(job_id)
            return int(count) - 1
        return None

    def dequeue(self, job_id: str) -> None:
        """See :meth:`JobStore.dequeue`."""
        self._redis.zrem(self._waiting_key, job_id)

    def waiting(self, ttl_s: float) -> int:
        """See :meth:`JobStore.waiting`."""
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(self._waiting_key, "-inf", time.time() - ttl_s)
            pipe.zcard(self._waiting_key)
            _, count = pipe.execute()
        return int(count)

    def close(self) -> None:
        """Close the connection pool."""
        self._redis.close()


def open_job_store(settings: QuantSettings) -> FileJobStore | RedisJobStore:
    """The job store the settings ask for: Redis when ``SEXTANT_REDIS_URL`` is set, else files
    under ``<SEXTANT_DATA_DIR>/jobs/quant``."""
    if settings.redis_url is not None:
        return RedisJobStore(
            settings.redis_url.get_secret_value(),
            prefix=settings.quant_jobs_redis_prefix,
            ttl_s=settings.quant_job_ttl_s,
        )
    return FileJobStore(settings.data_dir / "jobs" / "quant")
