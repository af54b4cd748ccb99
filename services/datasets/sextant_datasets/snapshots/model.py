"""What a snapshot is: its query, its manifest, its verification report, and its errors.

A snapshot freezes the as-of answer to a bars query into files that never change. Its manifest
(``manifest.json``) lists every file with its sha256 and size, the column schema, and the
content hash of the rows; the snapshot id is derived from that content hash alone.
"""

from __future__ import annotations

import re
from typing import Final

import pyarrow as pa
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from sextant_common.events import INSTRUMENT_ID_PATTERN, Interval
from sextant_datasets.lake.layout import BAR_SCHEMA
from sextant_datasets.lake.reader import BAR_COLUMNS

SNAPSHOT_SCHEMA: Final = pa.schema(
    [
        pa.field("symbol", pa.string()),
        BAR_SCHEMA.field("interval"),
        *(BAR_SCHEMA.field(name) for name in BAR_COLUMNS),
    ]
)
"""Columns of every snapshot file: the symbol, the interval, then the as-of columns of
:meth:`LakeReader.bars` with the lake's types. Rows are ordered by (symbol, ts_event); each bar
appears once, at the highest revision known at the snapshot's as-of time."""

ID_LENGTH: Final = 32
"""Hex digits of the content hash that form a snapshot id (128 bits)."""
ID_PATTERN: Final = rf"^[0-9a-f]{{{ID_LENGTH}}}$"
_ID_RE: Final = re.compile(ID_PATTERN)


def is_snapshot_id(value: str) -> bool:
    """Whether ``value`` is spelled like a snapshot id (also keeps ids from escaping the root)."""
    return _ID_RE.fullmatch(value) is not None


class SnapshotQuery(BaseModel):
    """The bars a snapshot holds: ``symbols`` at ``interval`` with start in [start, end].

    ``source`` None means the reader's preference (a real source over ``simulated``), decided
    per symbol. Symbols are stored sorted and without duplicates, so the order in which they
    were asked for does not matter.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbols: tuple[str, ...] = Field(min_length=1)
    interval: Interval = Interval.D1
    start: AwareDatetime
    end: AwareDatetime
    source: str | None = None

    @field_validator("symbols")
    @classmethod
    def _canonical_symbols(cls, symbols: tuple[str, ...]) -> tuple[str, ...]:
        for symbol in symbols:
            if not re.fullmatch(INSTRUMENT_ID_PATTERN, symbol):
                raise ValueError(f"{symbol!r} is not an instrument id ({INSTRUMENT_ID_PATTERN})")
        return tuple(sorted(set(symbols)))

    @model_validator(mode="after")
    def _ordered_bounds(self) -> SnapshotQuery:
        if self.end < self.start:
            raise ValueError(f"end ({self.end.isoformat()}) is before start ({self.start})")
        return self


class ColumnSpec(BaseModel):
    """One column of the snapshot schema (Arrow type spelled as pyarrow prints it)."""

    model_config = ConfigDict(frozen=True)

    name: str
    type: str


class SnapshotFile(BaseModel):
    """One data file of a snapshot, relative to the snapshot directory."""

    model_config = ConfigDict(frozen=True)

    path: str
    sha256: str
    size: int
    """Bytes."""
    rows: int


class Snapshot(BaseModel):
    """The manifest of one snapshot, as stored in ``<snapshots>/<id>/manifest.json``.

    ``id`` is the first :data:`ID_LENGTH` hex digits of ``content_hash``, a sha256 over the rows
    (see :func:`sextant_datasets.snapshots.hashing.content_hash`). The query and as-of time are
    not part of the address: two requests whose answers are the same rows share one snapshot,
    and its manifest keeps the query, as-of and creation time of the first request.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    format: int = 1
    created_at: AwareDatetime
    as_of: AwareDatetime
    """Knowledge time: the rows are exactly what was known at this instant."""
    query: SnapshotQuery
    sources: dict[str, str]
    """Source used per symbol."""
    row_count: int
    columns: tuple[ColumnSpec, ...]
    files: tuple[SnapshotFile, ...]
    content_hash: str
    """sha256 (hex) of the canonical encoding of the rows; independent of Parquet bytes."""


class FileCheck(BaseModel):
    """The verification of one file listed in a manifest."""

    model_config = ConfigDict(frozen=True)

    path: str
    ok: bool
    expected_sha256: str
    actual_sha256: str | None
    """None when the file is missing."""
    expected_size: int
    actual_size: int | None


class VerifyReport(BaseModel):
    """What :meth:`DatasetManager.verify` found. ``ok`` only if every check passed."""

    model_config = ConfigDict(frozen=True)

    id: str
    ok: bool
    files: tuple[FileCheck, ...]
    expected_content_hash: str | None
    actual_content_hash: str | None
    """None when the data could not be read back (a file missing, altered or unparseable)."""
    problems: tuple[str, ...]
    """One sentence per failed check, naming the file and the expected and actual hashes."""


class UnknownSnapshot(LookupError):
    """No snapshot with this id is stored."""


class EmptySnapshot(LookupError):
    """The query matches no rows for at least one symbol; a snapshot would be silently partial."""


class SnapshotTampered(Exception):
    """A stored snapshot no longer matches its manifest; ``report`` says which file and how."""

    def __init__(self, report: VerifyReport) -> None:
        self.report = report
        super().__init__(f"snapshot {report.id} failed verification: " + "; ".join(report.problems))
