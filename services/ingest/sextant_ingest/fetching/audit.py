"""The fetch audit trail: one JSON line per fetch in ``<data_dir>/audit/fetch-YYYY-MM-DD.jsonl``.

Fields: ``ts`` (UTC, ISO), ``kind``, ``provider``, ``dataset``, ``query`` (secrets excluded),
``status`` (ok / cache_hit / not_found / no_data / error:<type>), ``rows``, ``rejects`` (count)
and ``reject_reasons`` (up to 20), ``latency_ms``, ``cache`` (hot / cold / miss), ``attempts``
(HTTP attempts at the answering provider), ``coalesced`` (joined an identical fetch in flight)
and ``fallbacks`` (providers tried before, with their error).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any

import orjson

MAX_REJECT_REASONS = 20
_SECRET_FIELD = re.compile(r"key|token|secret|password|passwd|auth|credential", re.IGNORECASE)


def public_query(query: dict[str, Any]) -> dict[str, Any]:
    """``query`` without fields whose name looks like a secret (api_key, token, ...)."""
    return {k: ("***" if _SECRET_FIELD.search(k) else v) for k, v in query.items()}


class AuditLog:
    """Appends audit lines; one open file per UTC day, each line written whole (line-buffered)."""

    def __init__(
        self,
        directory: Path,
        *,
        redact: Callable[[str], str] = lambda text: text,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.directory = directory
        self._redact = redact
        self._now = now
        self._day: date | None = None
        self._file: IO[str] | None = None

    def path_for(self, day: date) -> Path:
        """The audit file of ``day``."""
        return self.directory / f"fetch-{day.isoformat()}.jsonl"

    def write(self, entry: dict[str, Any]) -> None:
        """Append one line: ``entry`` stamped with ``ts``, scrubbed of known secret values."""
        now = self._now()
        line = orjson.dumps({"ts": now.isoformat(), **entry}, default=str).decode()
        self._file_for(now.date()).write(self._redact(line) + "\n")

    def _file_for(self, day: date) -> IO[str]:
        if self._file is None or day != self._day:
            self.close()
            self.directory.mkdir(parents=True, exist_ok=True)
            self._file = self.path_for(day).open("a", encoding="utf-8", buffering=1)
            self._day = day
        return self._file

    def close(self) -> None:
        """Close the current file (the next write reopens)."""
        if self._file is not None:
            self._file.close()
            self._file = None
