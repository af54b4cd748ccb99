"""The backfill loop: every key not yet in the checkpoint, ``concurrency`` at a time.

A key is checkpointed only after its source returned (every record acknowledged by the
broker). A key that fails is logged with its error and left out of the checkpoint, so the
run goes on and the next run retries it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sextant_ingest.backfill.checkpoint import Checkpoint
from sextant_ingest.backfill.progress import Progress
from sextant_ingest.backfill.sources import BackfillSource

log = logging.getLogger(__name__)


@dataclass
class BackfillSummary:
    """What a run did. ``rows`` counts records published in this run (not skipped ones)."""

    total: int
    done: int = 0
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    rows: int = 0
    elapsed_s: float = 0.0
    gaps: Any = None
    """The datasets service's gap report, when it serves one (see the CLI)."""

    @property
    def rows_per_s(self) -> float:
        """Published rows per second of wall time."""
        return self.rows / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (``gaps`` only when known)."""
        out = asdict(self)
        out["failed_count"] = len(self.failed)
        out["rows_per_s"] = round(self.rows_per_s, 1)
        out["elapsed_s"] = round(self.elapsed_s, 3)
        if self.gaps is None:
            del out["gaps"]
        return out

    def text(self) -> str:
        """A human summary, one line."""
        return (
            f"backfill finished: {self.done} done, {self.skipped} skipped (checkpoint), "
            f"{len(self.failed)} failed of {self.total}; {self.rows:,} rows in "
            f"{self.elapsed_s:.1f} s ({self.rows_per_s:,.0f} rows/s)"
        )


async def run_backfill(
    keys: Sequence[str],
    source: BackfillSource,
    checkpoint: Checkpoint,
    *,
    concurrency: int = 4,
    progress: Progress | None = None,
    pause_s: float = 0.0,
) -> BackfillSummary:
    """Publish every key of ``keys`` through ``source`` unless ``checkpoint`` has it.

    ``concurrency`` keys are in flight at once; ``pause_s`` waits after each key (to go easy on
    a shared broker or a rate-limited provider). Never raises for one key's failure: it is in
    ``summary.failed`` with its error.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    started = time.perf_counter()
    summary = BackfillSummary(total=len(keys))
    todo = [k for k in keys if not checkpoint.is_done(k)]
    summary.skipped = len(keys) - len(todo)
    if progress is not None:
        progress.total = len(todo)
    pending = iter(todo)

    async def worker() -> None:
        # One shared iterator: asyncio runs next() without interleaving, so no key twice.
        for key in pending:
            try:
                rows = await source.publish(key)
                await checkpoint.mark_done(key, rows)
            except Exception as exc:  # one bad symbol must not stop the other 499
                summary.failed[key] = f"{type(exc).__name__}: {exc}"
                log.warning("backfill of %s failed: %s", key, exc, extra={"key": key})
                if progress is not None:
                    progress.advance(failed=True)
            else:
                summary.done += 1
                summary.rows += rows
                if progress is not None:
                    progress.advance(rows)
            if pause_s:
                await asyncio.sleep(pause_s)

    try:
        await asyncio.gather(*(worker() for _ in range(min(concurrency, max(len(todo), 1)))))
    finally:
        summary.elapsed_s = time.perf_counter() - started
        if progress is not None:
            progress.close()
    return summary
