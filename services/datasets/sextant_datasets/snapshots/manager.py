"""Saving, listing, verifying and loading snapshots of the lake.

Layout: ``<data_dir>/snapshots/<id>/manifest.json`` and ``<id>/bars.parquet`` (one file holding
every symbol, rows ordered by symbol then bar start). A snapshot directory is built under a
hidden temporary name, synced and renamed into place, so a reader sees a whole snapshot or none;
once written it is never modified. Saving rows that are already stored returns the existing
snapshot and writes nothing.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from sextant_datasets.lake.reader import BAR_COLUMNS, BarsQuery, LakeReader
from sextant_datasets.snapshots.hashing import content_hash, file_sha256
from sextant_datasets.snapshots.model import (
    ID_LENGTH,
    SNAPSHOT_SCHEMA,
    ColumnSpec,
    EmptySnapshot,
    FileCheck,
    Snapshot,
    SnapshotFile,
    SnapshotQuery,
    SnapshotTampered,
    UnknownSnapshot,
    VerifyReport,
    is_snapshot_id,
)

log = logging.getLogger(__name__)

MANIFEST: Final = "manifest.json"
DATA_FILE: Final = "bars.parquet"

PARQUET_OPTIONS: Final[dict[str, Any]] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": True,
    "write_statistics": True,
    "version": "2.6",
    "data_page_version": "1.0",
    "row_group_size": 1 << 20,
    "store_schema": True,
}
"""Fixed writer options so one pyarrow version always writes the same bytes for the same rows.
The id does not rely on this (it hashes values, not bytes); the per-file sha256 does."""


def snapshots_dir(lake_root: Path) -> Path:
    """Where snapshots live for a lake at ``lake_root``: its sibling ``snapshots``."""
    return lake_root.parent / "snapshots"


class DatasetManager:
    """Content-addressed, immutable snapshots of as-of bar queries over one lake."""

    def __init__(
        self,
        reader: LakeReader,
        root: Path | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.reader = reader
        self.root = root if root is not None else snapshots_dir(reader.root)
        self._clock = clock

    def collect(self, query: SnapshotQuery, as_of: datetime) -> tuple[pa.Table, dict[str, str]]:
        """The rows a snapshot of ``query`` as of ``as_of`` would hold, and the source per symbol.

        Uses :meth:`LakeReader.bars` for the point-in-time rule, so snapshots and ``/v1/bars``
        can never disagree. Raises ``UnknownSymbol`` (from the reader), or
        :class:`EmptySnapshot` naming every symbol with no rows in range as of ``as_of``.
        """
        as_of = self._checked_as_of(as_of)
        columns: dict[str, list[Any]] = {name: [] for name in SNAPSHOT_SCHEMA.names}
        sources: dict[str, str] = {}
        empty: list[str] = []
        for symbol in query.symbols:
            source, rows = self.reader.bars(
                BarsQuery(symbol, query.interval.value, query.start, query.end, as_of, query.source)
            )
            sources[symbol] = source
            if not rows:
                empty.append(symbol)
            for row in rows:
                values = dict(zip(BAR_COLUMNS, row, strict=True))
                values["ts_event"] = datetime.fromisoformat(values["ts_event"])
                values["ts_known"] = datetime.fromisoformat(values["ts_known"])
                values["symbol"] = symbol
                values["interval"] = query.interval.value
                for name, column in columns.items():
                    column.append(values[name])
        if empty:
            raise EmptySnapshot(
                f"no {query.interval.value} bars for {', '.join(map(repr, empty))} with start in "
                f"[start={_iso(query.start)}, end={_iso(query.end)}] known at as_of={_iso(as_of)}"
                "; widen start/end or move as_of later"
            )
        table = pa.Table.from_pydict(columns, schema=SNAPSHOT_SCHEMA)
        return table.sort_by([("symbol", "ascending"), ("ts_event", "ascending")]), sources

    def save_snapshot(self, query: SnapshotQuery, as_of: datetime) -> Snapshot:
        """Freeze the as-of answer to ``query`` and return its manifest.

        The same rows always give the same id; if that snapshot exists it is returned unchanged
        (with the query, as-of and creation time of whoever saved it first) and nothing is
        written. ``as_of`` must be timezone-aware and not in the future: a snapshot can only
        freeze what is already known.
        """
        table, sources = self.collect(query, as_of)
        digest = content_hash(table)
        snapshot_id = digest[:ID_LENGTH]
        if (self.root / snapshot_id / MANIFEST).is_file():
            return self.get_snapshot(snapshot_id)
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".tmp-{uuid.uuid4().hex}"
        staging.mkdir()
        try:
            data_path = staging / DATA_FILE
            pq.write_table(table, data_path, **PARQUET_OPTIONS)
            data = data_path.read_bytes()
            snapshot = Snapshot(
                id=snapshot_id,
                created_at=self._clock(),
                as_of=as_of,
                query=query,
                sources=sources,
                row_count=table.num_rows,
                columns=tuple(ColumnSpec(name=f.name, type=str(f.type)) for f in table.schema),
                files=(
                    SnapshotFile(
                        path=DATA_FILE,
                        sha256=file_sha256(data),
                        size=len(data),
                        rows=table.num_rows,
                    ),
                ),
                content_hash=digest,
            )
            (staging / MANIFEST).write_text(snapshot.model_dump_json(indent=2) + "\n")
            for path in (data_path, staging / MANIFEST, staging):
                _fsync(path)
            try:
                os.rename(staging, self.root / snapshot_id)
            except OSError:
                if (self.root / snapshot_id / MANIFEST).is_file():  # a concurrent save won
                    return self.get_snapshot(snapshot_id)
                raise
            _fsync(self.root)
            return snapshot
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def get_snapshot(self, snapshot_id: str) -> Snapshot:
        """The manifest of ``snapshot_id``. Raises :class:`UnknownSnapshot`, or
        :class:`SnapshotTampered` when the manifest is unreadable or not this id's."""
        path = self._directory(snapshot_id) / MANIFEST
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise UnknownSnapshot(f"no snapshot {snapshot_id!r}") from None
        try:
            snapshot = Snapshot.model_validate_json(raw)
        except ValidationError as exc:
            raise SnapshotTampered(
                _report(snapshot_id, problems=[f"{MANIFEST} is not a valid manifest: {exc}"])
            ) from None
        if snapshot.id != snapshot_id:
            raise SnapshotTampered(
                _report(
                    snapshot_id,
                    problems=[f"{MANIFEST} names id {snapshot.id!r}, stored as {snapshot_id!r}"],
                )
            )
        return snapshot

    def list_snapshots(self) -> list[Snapshot]:
        """Every stored snapshot, oldest first. Unreadable manifests are logged and skipped."""
        if not self.root.is_dir():
            return []
        snapshots = []
        for directory in sorted(self.root.iterdir()):
            if not is_snapshot_id(directory.name):
                continue  # staging directories and strays
            try:
                snapshots.append(self.get_snapshot(directory.name))
            except (UnknownSnapshot, SnapshotTampered) as exc:
                log.warning("skipping snapshot %s: %s", directory.name, exc)
        return sorted(snapshots, key=lambda s: (s.created_at, s.id))

    def verify(self, snapshot_id: str) -> VerifyReport:
        """Recompute every file's sha256 and size and the content hash of the rows, and compare
        them with the manifest. Raises :class:`UnknownSnapshot`; a bad manifest is reported."""
        try:
            report, _ = self._check(snapshot_id)
        except SnapshotTampered as exc:
            return exc.report
        return report

    def load_snapshot(self, snapshot_id: str) -> pa.Table:
        """The rows of ``snapshot_id``, exactly as saved (schema, order and values).

        The table is parsed from the very bytes whose hashes were checked. Raises
        :class:`UnknownSnapshot`, or :class:`SnapshotTampered` if any check fails.
        """
        report, table = self._check(snapshot_id)
        if not report.ok or table is None:
            raise SnapshotTampered(report)
        return table

    def _check(self, snapshot_id: str) -> tuple[VerifyReport, pa.Table | None]:
        snapshot = self.get_snapshot(snapshot_id)
        directory = self._directory(snapshot_id)
        checks: list[FileCheck] = []
        problems: list[str] = []
        parts: list[pa.Table] = []
        for entry in snapshot.files:
            try:
                data = (directory / entry.path).read_bytes()
            except FileNotFoundError:
                checks.append(_file_check(entry, None))
                problems.append(f"{entry.path}: missing (expected sha256 {entry.sha256})")
                continue
            check = _file_check(entry, data)
            checks.append(check)
            if not check.ok:
                problems.append(
                    f"{entry.path}: sha256 expected {entry.sha256}, actual {check.actual_sha256}"
                    f" (size expected {entry.size}, actual {check.actual_size})"
                )
                continue
            try:
                parts.append(pq.read_table(pa.BufferReader(data)))
            except (pa.ArrowException, OSError) as exc:
                problems.append(f"{entry.path}: not readable as Parquet ({exc})")
        listed = {entry.path for entry in snapshot.files} | {MANIFEST}
        problems.extend(
            f"{path.name}: not listed in the manifest"
            for path in sorted(directory.iterdir())
            if path.name not in listed
        )
        table = actual = None
        if len(parts) == len(snapshot.files):
            table = pa.concat_tables(parts) if len(parts) != 1 else parts[0]
            actual = content_hash(table)
            if actual != snapshot.content_hash:
                problems.append(f"content hash expected {snapshot.content_hash}, actual {actual}")
        if not snapshot.content_hash.startswith(snapshot_id):
            problems.append(
                f"{MANIFEST}: content hash {snapshot.content_hash} does not match id {snapshot_id}"
            )
        report = VerifyReport(
            id=snapshot_id,
            ok=not problems,
            files=tuple(checks),
            expected_content_hash=snapshot.content_hash,
            actual_content_hash=actual,
            problems=tuple(problems),
        )
        return report, table

    def _directory(self, snapshot_id: str) -> Path:
        if not is_snapshot_id(snapshot_id):
            raise UnknownSnapshot(
                f"no snapshot {snapshot_id!r}: ids are {ID_LENGTH} lowercase hex digits"
            )
        return self.root / snapshot_id

    def _checked_as_of(self, as_of: datetime) -> datetime:
        if as_of.tzinfo is None:
            raise ValueError(f"as_of must be timezone-aware (UTC), got naive {as_of.isoformat()}")
        now = self._clock()
        if as_of > now:
            raise ValueError(
                f"as_of ({_iso(as_of)}) is in the future (now {_iso(now)}); a snapshot can "
                "only freeze what is already known"
            )
        return as_of.astimezone(UTC)


def _file_check(entry: SnapshotFile, data: bytes | None) -> FileCheck:
    actual = None if data is None else file_sha256(data)
    size = None if data is None else len(data)
    return FileCheck(
        path=entry.path,
        ok=actual == entry.sha256 and size == entry.size,
        expected_sha256=entry.sha256,
        actual_sha256=actual,
        expected_size=entry.size,
        actual_size=size,
    )


def _report(snapshot_id: str, *, problems: list[str]) -> VerifyReport:
    return VerifyReport(
        id=snapshot_id,
        ok=False,
        files=(),
        expected_content_hash=None,
        actual_content_hash=None,
        problems=tuple(problems),
    )


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
