"""Dead letters kept in one SQLite file under the data dir.

SQLite rather than a Parquet dataset: dead letters are few, arrive one by one, are listed newest
first with counts, and each is later updated once (marked replayed); a transactional table with
a unique key does all of that without compaction. The file is opened with ``synchronous=FULL``
(WAL), so a committed insert is on disk before the keeper commits its Kafka offsets.

A dead letter's identity is where it failed: ``(topic, partition, offset, consumer)``. The same
failure dead-lettered twice (a consumer that crashed between producing to ``dlq.v1`` and
committing redelivers the record and dead-letters it again) is stored once. Records the fetcher
rejected were never on the bus (partition and offset -1), so for them the identity also covers
the raw bytes and the error: the same bad record rejected for the same reason is one row.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sextant_common.events import DeadLetter

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    reason TEXT NOT NULL,
    letter TEXT NOT NULL,
    stored_at TEXT NOT NULL,
    replayed_at TEXT,
    replayed_to TEXT,
    replay_note TEXT
);
CREATE INDEX IF NOT EXISTS dead_letters_topic ON dead_letters (topic, seq);
"""

_PYDANTIC_TYPE = re.compile(r"\[type=([a-z_]+)")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def letter_id(letter: DeadLetter) -> str:
    """The stable id of ``letter``: 16 hex digits of a SHA-256 over where it failed (and, for a
    record that was never on the bus, its raw bytes and error)."""
    parts = [letter.topic, str(letter.partition), str(letter.offset), letter.consumer]
    if letter.offset < 0:
        parts += [letter.raw_b64, letter.error]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def normalized_reason(error: str) -> str:
    """What kind of failure ``error`` is, for counting: its first line with quoted values,
    timestamps and numbers replaced by ``…``/``N``, followed by the pydantic error types it
    names (``[json_invalid]``), so 500 bad bars from 500 offsets count as one reason."""
    first = error.strip().splitlines()[0] if error.strip() else "(no error text)"
    first = _NUMBER.sub("N", _TIMESTAMP.sub("…", _QUOTED.sub("'…'", first)))
    types = sorted(set(_PYDANTIC_TYPE.findall(error)))
    return f"{first} [{', '.join(types)}]" if types else first


@dataclass(frozen=True)
class StoredLetter:
    """One kept dead letter and what was done with it."""

    id: str
    letter: DeadLetter
    stored_at: datetime
    replayed_at: datetime | None
    replayed_to: str | None
    """``topic/partition@offset`` of the replayed record."""
    replay_note: str | None

    @property
    def reason(self) -> str:
        """:func:`normalized_reason` of the letter's error."""
        return normalized_reason(self.letter.error)


@dataclass(frozen=True)
class Page:
    """The newest stored letters (optionally of one topic) and counts over the store."""

    total: int
    """Letters matching the filter."""
    by_topic: dict[str, int]
    """Every stored letter, per original topic (the filter does not apply)."""
    by_reason: dict[str, int]
    """Letters matching the filter, per :func:`normalized_reason`, most frequent first."""
    letters: list[StoredLetter]


class UnknownLetter(KeyError):
    """No dead letter with this id is stored."""


class DeadLetterStore:
    """The SQLite table of dead letters at ``path`` (created on first use).

    Each call opens its own connection, so the store is safe from any thread and from another
    process (the replay command) at the same time.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30.0)) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            with db:  # one transaction: committed on success, rolled back on error
                yield db

    def add(self, letters: Iterable[DeadLetter]) -> int:
        """Store ``letters`` durably, skipping those already stored; return how many were new."""
        now = datetime.now(UTC).isoformat()
        rows = [
            (letter_id(x), x.topic, normalized_reason(x.error), x.model_dump_json(), now)
            for x in letters
        ]
        with self._connect() as db:
            before = db.total_changes
            db.executemany(
                "INSERT OR IGNORE INTO dead_letters (id, topic, reason, letter, stored_at) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            return db.total_changes - before

    def page(self, *, topic: str | None = None, limit: int = 50, offset: int = 0) -> Page:
        """The ``limit`` newest letters after skipping ``offset`` (of ``topic`` when given)."""
        where, args = ("WHERE topic = ?", (topic,)) if topic is not None else ("", ())
        with self._connect() as db:
            by_topic = dict(
                db.execute("SELECT topic, COUNT(*) FROM dead_letters GROUP BY topic ORDER BY 1")
            )
            by_reason = dict(
                db.execute(
                    f"SELECT reason, COUNT(*) AS n FROM dead_letters {where} "  # noqa: S608 constant columns/clauses; values bound (?)
                    "GROUP BY reason ORDER BY n DESC, reason",
                    args,
                )
            )
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM dead_letters {where} ORDER BY seq DESC LIMIT ? OFFSET ?",  # noqa: S608 constant columns/clauses; values bound (?)
                (*args, limit, offset),
            ).fetchall()
        return Page(
            total=sum(by_reason.values()),
            by_topic=by_topic,
            by_reason=by_reason,
            letters=[_stored(row) for row in rows],
        )

    def get(self, id_: str) -> StoredLetter:
        """The letter with id ``id_``; raises :class:`UnknownLetter` when none is stored."""
        with self._connect() as db:
            row = db.execute(f"SELECT {_COLUMNS} FROM dead_letters WHERE id = ?", (id_,)).fetchone()  # noqa: S608 constant columns/clauses; values bound (?)
        if row is None:
            raise UnknownLetter(id_)
        return _stored(row)

    def mark_replayed(self, id_: str, replayed_to: str, note: str | None) -> None:
        """Record that letter ``id_`` was re-published as ``replayed_to`` (the last replay wins)."""
        with self._connect() as db:
            updated = db.execute(
                "UPDATE dead_letters SET replayed_at = ?, replayed_to = ?, replay_note = ? "
                "WHERE id = ?",
                (datetime.now(UTC).isoformat(), replayed_to, note, id_),
            ).rowcount
        if not updated:
            raise UnknownLetter(id_)


_COLUMNS = "id, letter, stored_at, replayed_at, replayed_to, replay_note"


def _stored(row: tuple[str, str, str, str | None, str | None, str | None]) -> StoredLetter:
    id_, letter, stored_at, replayed_at, replayed_to, note = row
    return StoredLetter(
        id=id_,
        letter=DeadLetter.model_validate_json(letter),
        stored_at=datetime.fromisoformat(stored_at),
        replayed_at=None if replayed_at is None else datetime.fromisoformat(replayed_at),
        replayed_to=replayed_to,
        replay_note=note,
    )


def text_or_none(data: bytes) -> str | None:
    """``data`` as UTF-8 text, or None when it is not valid UTF-8."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return None
