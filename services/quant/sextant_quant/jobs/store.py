"""The latest event of every job this service runs, in memory and as one JSON file per job."""

from __future__ import annotations

from pathlib import Path

from sextant_common.events import JobEvent


class JobStore:
    """Latest :class:`JobEvent` per job id; survives restarts through ``<root>/<job_id>.json``."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._root.mkdir(parents=True, exist_ok=True)
        self._latest: dict[str, JobEvent] = {}

    def put(self, event: JobEvent) -> None:
        """Record ``event`` as the job's latest state (atomic file replace)."""
        self._latest[event.job_id] = event
        path = self._root / f"{event.job_id}.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_bytes(event.to_bytes())
        tmp.replace(path)

    def get(self, job_id: str) -> JobEvent | None:
        """The job's latest event, or None for an unknown id."""
        event = self._latest.get(job_id)
        if event is None:
            path = self._root / f"{job_id}.json"
            if path.is_file():
                event = JobEvent.model_validate_json(path.read_bytes())
                self._latest[job_id] = event
        return event
