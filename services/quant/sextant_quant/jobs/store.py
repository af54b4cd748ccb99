"""The latest event of every job this service runs, in memory and as one JSON file per job, and
the results too large to travel in an event, as one more JSON file per job."""

from __future__ import annotations

import os
from pathlib import Path

from sextant_common.events import JobEvent


def _write_atomically(path: Path, payload: bytes) -> None:
    """Write ``payload`` to ``path`` so a reader sees the old file or the whole new one."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        handle.write(payload)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


class JobStore:
    """Latest :class:`JobEvent` per job id; survives restarts through ``<root>/<job_id>.json``.

    A result too large for an event lives in ``<root>/<job_id>.result.json`` (the JSON of the
    result object) and the event names it in ``result_ref``.
    """

    def __init__(self, root: Path) -> None:
        self._root = root
        self._root.mkdir(parents=True, exist_ok=True)
        self._latest: dict[str, JobEvent] = {}

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
        name = f"{job_id}.result.json"
        _write_atomically(self._root / name, payload)
        return name

    def result(self, ref: str) -> bytes | None:
        """The JSON bytes stored under ``ref`` (from :meth:`put_result`), or None if missing."""
        path = self._root / Path(ref).name  # a reference never leaves the store's folder
        return path.read_bytes() if path.is_file() else None
