"""Integrity check of the bars lake: every file readable, with ``BAR_SCHEMA``, its sha256, rows
in the partition their own values name, and no natural key stored twice.

Per-file checks read each file once (hash and decode from the same bytes, in a thread pool); the
duplicate search is one DuckDB aggregate over the files that passed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sextant_common.events import Interval
from sextant_datasets.cold.compaction import NATURAL_KEY
from sextant_datasets.cold.inventory import PartitionFiles
from sextant_datasets.lake.layout import BAR_SCHEMA, DAILY, Partition

EXAMPLES = 10
"""How many example rows each finding lists."""


@dataclass(frozen=True)
class FileCheck:
    """Result of the per-file checks of one file. ``problem`` is None when the file is sound."""

    path: Path
    bytes: int
    sha256: str
    rows: int | None
    problem: str | None
    wrong_partition_rows: int = 0
    wrong_partition_examples: tuple[dict[str, Any], ...] = ()

    def public(self, root: Path) -> dict[str, Any]:
        """JSON-ready form with the path relative to the lake root."""
        return {
            "path": str(self.path.relative_to(root)),
            "bytes": self.bytes,
            "sha256": self.sha256,
            "rows": self.rows,
            "problem": self.problem,
            "wrong_partition_rows": self.wrong_partition_rows,
        }


@dataclass
class IntegrityReport:
    """Findings over the checked files. ``ok`` when there is nothing to fix."""

    root: Path
    files: list[FileCheck] = field(default_factory=list)
    duplicate_keys: int = 0
    """Natural keys stored more than once."""
    duplicate_rows: int = 0
    """Surplus rows: stored rows minus distinct natural keys."""
    duplicate_examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def unreadable(self) -> list[FileCheck]:
        """Files that could not be decoded as Parquet."""
        return [f for f in self.files if f.problem and f.problem.startswith("unreadable")]

    @property
    def wrong_schema(self) -> list[FileCheck]:
        """Readable files whose schema is not ``BAR_SCHEMA``."""
        return [f for f in self.files if f.problem and f.problem.startswith("schema")]

    @property
    def wrong_partition_rows(self) -> int:
        """Rows stored in a partition other than the one their values belong to."""
        return sum(f.wrong_partition_rows for f in self.files)

    @property
    def ok(self) -> bool:
        """No unusable file, no misplaced row, no duplicate key."""
        return not (
            any(f.problem for f in self.files) or self.wrong_partition_rows or self.duplicate_rows
        )

    def public(self, *, include_files: bool = True) -> dict[str, Any]:
        """JSON-ready form; ``include_files`` lists every file with its sha256."""
        misplaced = [e for f in self.files for e in f.wrong_partition_examples][:EXAMPLES]
        body: dict[str, Any] = {
            "ok": self.ok,
            "files_checked": len(self.files),
            "rows": sum(f.rows or 0 for f in self.files),
            "bytes": sum(f.bytes for f in self.files),
            "unreadable": [f.public(self.root) for f in self.unreadable],
            "wrong_schema": [f.public(self.root) for f in self.wrong_schema],
            "duplicates": {
                "keys": self.duplicate_keys,
                "surplus_rows": self.duplicate_rows,
                "examples": self.duplicate_examples,
            },
            "wrong_partition": {"rows": self.wrong_partition_rows, "examples": misplaced},
        }
        if include_files:
            body["files"] = [f.public(self.root) for f in self.files]
        return body


def check_integrity(root: Path, partitions: Sequence[PartitionFiles]) -> IntegrityReport:
    """Check every file of ``partitions`` (see the module docstring)."""
    jobs = [(p.partition, f.path) for p in partitions for f in p.files]
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="lake-integrity") as pool:
        checks = list(pool.map(lambda job: check_file(*job), jobs))
    report = IntegrityReport(root=root, files=checks)
    sound = [c.path for c in checks if c.problem is None]
    if sound:
        _find_duplicates(root, sound, report)
    return report


def check_file(partition: Partition, path: Path) -> FileCheck:
    """Hash, decode and check one file of ``partition``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return FileCheck(path, 0, "", None, f"unreadable: {exc}")
    digest = hashlib.sha256(data).hexdigest()
    try:
        table = pq.read_table(pa.BufferReader(data), partitioning=None)
    except (OSError, pa.ArrowException) as exc:
        return FileCheck(path, len(data), digest, None, f"unreadable: {exc}")
    if not table.schema.equals(BAR_SCHEMA):
        return FileCheck(
            path,
            len(data),
            digest,
            table.num_rows,
            f"schema differs from BAR_SCHEMA: {_schema_diff(table.schema)}",
        )
    misplaced = _misplaced(partition, table)
    examples = tuple(
        {
            "file": path.name,
            "partition": str(partition.path(Path())),
            "instrument_id": row["instrument_id"],
            "interval": row["interval"],
            "ts_event": _iso(row["ts_event"]),
        }
        for row in table.filter(misplaced).slice(0, EXAMPLES).to_pylist()
    )
    return FileCheck(
        path,
        len(data),
        digest,
        table.num_rows,
        None,
        wrong_partition_rows=pc.sum(misplaced).as_py() or 0,
        wrong_partition_examples=examples,
    )


def _misplaced(partition: Partition, table: pa.Table) -> pa.Array:
    """Mask of rows whose own values name a partition other than ``partition``."""
    n = table.num_rows
    try:
        daily = Interval(partition.interval).duration >= DAILY
    except ValueError:
        return pa.array([True] * n)  # not an interval at all: nothing belongs here
    if daily != (partition.month is None):
        return pa.array([True] * n)  # daily bars in a month dir, or intraday without one
    ts = table.column("ts_event")
    wrong = pc.or_(
        pc.not_equal(table.column("instrument_id"), partition.symbol),
        pc.not_equal(table.column("interval"), partition.interval),
    )
    wrong = pc.or_(wrong, pc.not_equal(pc.year(ts), partition.year))
    if partition.month is not None:
        wrong = pc.or_(wrong, pc.not_equal(pc.month(ts), partition.month))
    return pc.fill_null(wrong, True).combine_chunks()


def _find_duplicates(root: Path, files: list[Path], report: IntegrityReport) -> None:
    key = ", ".join(NATURAL_KEY)
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    rows = con.execute(
        f"""SELECT {key}, count(*) AS copies, list(DISTINCT filename ORDER BY filename)
            FROM read_parquet($files, hive_partitioning = false, filename = true)
            GROUP BY {key} HAVING count(*) > 1
            ORDER BY {key}""",  # noqa: S608 NATURAL_KEY columns only; files bound
        {"files": [str(f) for f in files]},
    ).fetchall()
    report.duplicate_keys = len(rows)
    report.duplicate_rows = sum(r[len(NATURAL_KEY)] - 1 for r in rows)
    report.duplicate_examples = [
        {
            **{name: _iso(value) for name, value in zip(NATURAL_KEY, row, strict=False)},
            "copies": row[len(NATURAL_KEY)],
            "files": [str(Path(f).relative_to(root)) for f in row[len(NATURAL_KEY) + 1]],
        }
        for row in rows[:EXAMPLES]
    ]


def _schema_diff(schema: pa.Schema) -> str:
    expected = {f.name: str(f.type) for f in BAR_SCHEMA}
    actual = {f.name: str(f.type) for f in schema}
    parts = [f"missing {n}" for n in expected if n not in actual]
    parts += [f"unexpected {n}" for n in actual if n not in expected]
    parts += [
        f"{n} is {actual[n]}, expected {t}"
        for n, t in expected.items()
        if n in actual and actual[n] != t
    ]
    if not parts and list(actual) != list(expected):
        parts.append("columns out of order")
    return "; ".join(parts)


def _iso(value: Any) -> Any:
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else value
