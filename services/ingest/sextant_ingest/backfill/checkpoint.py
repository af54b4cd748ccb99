"""The resumable checkpoint: one JSON line per finished symbol, fsync'd before it counts.

A line is written only after the broker acknowledged every bar of the symbol, and the file is
fsync'd before the runner moves on, so a line on disk means the symbol is on the bus. A run
killed mid-write leaves at most a torn last line, which loading drops (that symbol is simply
done again). Lines carry the job they belong to (provider, interval, range), so one checkpoint
file never makes a backfill of a different range skip anything.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from pathlib import Path

import orjson


class Checkpoint:
    """Finished keys of one backfill job, persisted in ``path`` (JSON lines, append-only)."""

    def __init__(self, path: Path, job: str) -> None:
        self.path = path
        self.job = job
        self._done: dict[str, int] = {}
        self._lock = asyncio.Lock()
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        raw = self.path.read_bytes()
        complete = raw[: raw.rfind(b"\n") + 1]
        if len(complete) != len(raw):
            # A torn last line from a kill mid-write: drop it so the next append starts clean.
            with self.path.open("r+b") as handle:
                handle.truncate(len(complete))
                os.fsync(handle.fileno())
        for line in complete.splitlines():
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(entry, dict) and entry.get("job") == self.job and "key" in entry:
                self._done[str(entry["key"])] = int(entry.get("rows", 0))

    def is_done(self, key: str) -> bool:
        """Whether ``key`` finished (and was acknowledged) in an earlier run of this job."""
        return key in self._done

    @property
    def done(self) -> dict[str, int]:
        """Finished keys and their row counts."""
        return dict(self._done)

    async def mark_done(self, key: str, rows: int) -> None:
        """Record ``key`` as finished with ``rows`` rows; returns once the line is on disk."""
        line = orjson.dumps(
            {
                "key": key,
                "rows": rows,
                "job": self.job,
                "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
        )
        async with self._lock:  # one writer at a time keeps lines whole
            await asyncio.to_thread(self._append, line + b"\n")
        self._done[key] = rows

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("ab") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
