"""Snapshots on real files: round trip, content addressing, tamper detection, point in time."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sextant_datasets.lake.reader import LakeReader, UnknownSymbol
from sextant_datasets.lake.writer import LakeWriter
from sextant_datasets.snapshots import (
    SNAPSHOT_SCHEMA,
    DatasetManager,
    EmptySnapshot,
    SnapshotQuery,
    SnapshotTampered,
    UnknownSnapshot,
    content_hash,
)
from sextant_datasets.snapshots.manager import DATA_FILE, MANIFEST, PARQUET_OPTIONS
from tests.support import make_bar

BASE = datetime(2021, 3, 1, tzinfo=UTC)
DAYS = 20
CORRECTED = BASE + timedelta(days=5)
"""The one bar of AAPL that gets a correction."""
CORRECTION_KNOWN = datetime(2021, 6, 1, tzinfo=UTC)
BEFORE = CORRECTION_KNOWN - timedelta(days=1)
AFTER = CORRECTION_KNOWN + timedelta(days=1)
NOW = datetime(2024, 1, 1, tzinfo=UTC)


def write_lake(lake: Path, *, with_correction: bool = True) -> None:
    """AAPL and MSFT daily bars for 20 days; AAPL's 6th bar corrected on 2021-06-01."""
    writer = LakeWriter(lake)
    writer.write(
        make_bar(symbol, BASE + timedelta(days=d), close=100.0 + d + 0.1 * i)
        for i, symbol in enumerate(("AAPL", "MSFT"))
        for d in range(DAYS)
    )
    if with_correction:
        writer.write(
            [make_bar("AAPL", CORRECTED, close=999.5, revision=1, ts_known=CORRECTION_KNOWN)]
        )


def both(**kw: object) -> SnapshotQuery:
    fields: dict[str, object] = {
        "symbols": ("MSFT", "AAPL"),
        "start": BASE,
        "end": BASE + timedelta(days=DAYS),
    }
    fields.update(kw)
    return SnapshotQuery.model_validate(fields)


class Clock:
    """A clock that ticks one second per reading, so creation times are distinct."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def manager(tmp_path: Path) -> DatasetManager:
    write_lake(tmp_path / "lake")
    return DatasetManager(LakeReader(tmp_path / "lake"), clock=Clock())


def flip_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_snapshots_live_next_to_the_lake(manager: DatasetManager, tmp_path: Path) -> None:
    snapshot = manager.save_snapshot(both(), AFTER)
    assert manager.root == tmp_path / "snapshots"
    assert sorted(p.name for p in (tmp_path / "snapshots" / snapshot.id).iterdir()) == [
        DATA_FILE,
        MANIFEST,
    ]
    assert [p.name for p in (tmp_path / "snapshots").iterdir()] == [snapshot.id]  # no staging


def test_round_trip_is_exact_and_hash_verified(manager: DatasetManager) -> None:
    expected, sources = manager.collect(both(), AFTER)
    snapshot = manager.save_snapshot(both(), AFTER)
    table = manager.load_snapshot(snapshot.id)

    assert table.schema.equals(SNAPSHOT_SCHEMA)
    assert table.equals(expected)
    assert content_hash(table) == snapshot.content_hash
    assert snapshot.id == snapshot.content_hash[:32]
    assert snapshot.row_count == table.num_rows == 2 * DAYS
    assert sources == snapshot.sources == {"AAPL": "test", "MSFT": "test"}
    assert [(c.name, c.type) for c in snapshot.columns] == [
        (f.name, str(f.type)) for f in SNAPSHOT_SCHEMA
    ]
    # Rows in a fixed order: by symbol, then bar start.
    keys = list(zip(table["symbol"].to_pylist(), table["ts_event"].to_pylist(), strict=True))
    assert keys == sorted(keys)
    # The stored file is what the manifest says, and re-encoding the loaded rows with the same
    # writer options gives the very same bytes.
    stored = (manager.root / snapshot.id / DATA_FILE).read_bytes()
    (entry,) = snapshot.files
    assert (entry.sha256, entry.size, entry.rows) == (
        hashlib.sha256(stored).hexdigest(),
        len(stored),
        2 * DAYS,
    )
    again = io.BytesIO()
    pq.write_table(table, again, **PARQUET_OPTIONS)
    assert again.getvalue() == stored
    report = manager.verify(snapshot.id)
    assert report.ok and report.problems == ()
    assert report.actual_content_hash == report.expected_content_hash == snapshot.content_hash


def test_same_data_gives_the_same_id_and_writes_nothing(manager: DatasetManager) -> None:
    first = manager.save_snapshot(both(), AFTER)
    data = manager.root / first.id / DATA_FILE
    written = data.stat().st_mtime_ns
    # Same symbols in another order, duplicated, and a later as-of with no new knowledge.
    second = manager.save_snapshot(both(symbols=("AAPL", "MSFT", "AAPL")), AFTER + timedelta(1))
    assert second.id == first.id
    assert second == first  # the manifest of the first save, unchanged
    assert data.stat().st_mtime_ns == written
    assert [s.id for s in manager.list_snapshots()] == [first.id]


def test_different_data_gives_different_ids(manager: DatasetManager) -> None:
    ids = {
        manager.save_snapshot(both(), AFTER).id,
        manager.save_snapshot(both(), BEFORE).id,  # before the correction
        manager.save_snapshot(both(symbols=("AAPL",)), AFTER).id,
        manager.save_snapshot(both(end=BASE + timedelta(days=3)), AFTER).id,
    }
    assert len(ids) == 4
    assert len(manager.list_snapshots()) == 4


def test_snapshot_keeps_what_was_known_even_after_a_correction_lands(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    write_lake(lake, with_correction=False)
    manager = DatasetManager(LakeReader(lake), clock=Clock())
    before = manager.save_snapshot(both(symbols=("AAPL",)), BEFORE)
    LakeWriter(lake).write(
        [make_bar("AAPL", CORRECTED, close=999.5, revision=1, ts_known=CORRECTION_KNOWN)]
    )
    after = manager.save_snapshot(both(symbols=("AAPL",)), AFTER)
    # Re-asking for the old as-of after the correction arrived reproduces the old snapshot.
    assert manager.save_snapshot(both(symbols=("AAPL",)), BEFORE).id == before.id

    def close_on_corrected_day(snapshot_id: str) -> tuple[float, int]:
        table = manager.load_snapshot(snapshot_id)
        row = table.to_pylist()[table["ts_event"].to_pylist().index(CORRECTED)]
        return row["close"], row["revision"]

    assert close_on_corrected_day(before.id) == (105.0, 0)
    assert close_on_corrected_day(after.id) == (999.5, 1)
    assert before.id != after.id


def test_flipped_byte_is_named_with_both_hashes(manager: DatasetManager) -> None:
    snapshot = manager.save_snapshot(both(), AFTER)
    path = manager.root / snapshot.id / DATA_FILE
    flip_byte(path, path.stat().st_size // 2)
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    expected = snapshot.files[0].sha256

    report = manager.verify(snapshot.id)
    assert not report.ok
    (check,) = report.files
    assert (check.path, check.ok) == (DATA_FILE, False)
    assert (check.expected_sha256, check.actual_sha256) == (expected, actual)
    assert any(DATA_FILE in p and expected in p and actual in p for p in report.problems), (
        report.problems
    )

    with pytest.raises(SnapshotTampered) as refused:
        manager.load_snapshot(snapshot.id)
    assert DATA_FILE in str(refused.value)
    assert expected in str(refused.value) and actual in str(refused.value)


def test_data_and_manifest_rewritten_together_is_still_caught(manager: DatasetManager) -> None:
    # A careful forger changes a close and fixes up the file hash in the manifest; the rows no
    # longer hash to the id (the directory name), so the snapshot is still refused.
    snapshot = manager.save_snapshot(both(), AFTER)
    directory = manager.root / snapshot.id
    table = manager.load_snapshot(snapshot.id)
    closes = table["close"].to_pylist()
    closes[3] += 0.01
    forged = table.set_column(table.schema.get_field_index("close"), "close", pa.array(closes))
    pq.write_table(forged, directory / DATA_FILE, **PARQUET_OPTIONS)
    data = (directory / DATA_FILE).read_bytes()
    manifest = snapshot.model_copy(
        update={
            "files": (
                snapshot.files[0].model_copy(
                    update={"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                ),
            )
        }
    )
    (directory / MANIFEST).write_text(manifest.model_dump_json())

    report = manager.verify(snapshot.id)
    assert not report.ok
    assert report.files[0].ok  # the file matches the forged manifest ...
    assert report.actual_content_hash == content_hash(forged)  # ... but not the content hash
    assert any(snapshot.content_hash in p for p in report.problems)
    with pytest.raises(SnapshotTampered):
        manager.load_snapshot(snapshot.id)


def test_missing_and_extra_files_are_reported(manager: DatasetManager) -> None:
    snapshot = manager.save_snapshot(both(), AFTER)
    directory = manager.root / snapshot.id
    (directory / "extra.parquet").write_bytes(b"x")
    (directory / DATA_FILE).unlink()
    report = manager.verify(snapshot.id)
    assert not report.ok
    assert report.files[0].actual_sha256 is None
    assert report.actual_content_hash is None
    assert any(p.startswith(f"{DATA_FILE}: missing") for p in report.problems)
    assert any(p.startswith("extra.parquet: not listed") for p in report.problems)


def test_unreadable_manifest_is_tampering(manager: DatasetManager) -> None:
    snapshot = manager.save_snapshot(both(), AFTER)
    (manager.root / snapshot.id / MANIFEST).write_text("{not json")
    assert not manager.verify(snapshot.id).ok
    with pytest.raises(SnapshotTampered, match=MANIFEST):
        manager.load_snapshot(snapshot.id)
    assert manager.list_snapshots() == []  # skipped, logged


@pytest.mark.parametrize("snapshot_id", ["0" * 32, "../lake", "ABC", "0" * 33])
def test_unknown_or_malformed_ids(manager: DatasetManager, snapshot_id: str) -> None:
    for call in (manager.get_snapshot, manager.load_snapshot, manager.verify):
        with pytest.raises(UnknownSnapshot):
            call(snapshot_id)


def test_list_is_oldest_first_and_ignores_strays(manager: DatasetManager) -> None:
    first = manager.save_snapshot(both(), AFTER)
    second = manager.save_snapshot(both(symbols=("MSFT",)), AFTER)
    (manager.root / ".tmp-crashed").mkdir()
    assert [s.id for s in manager.list_snapshots()] == [first.id, second.id]


def test_no_rows_names_the_symbol_and_bounds(manager: DatasetManager) -> None:
    late = both(start=BASE + timedelta(days=100), end=BASE + timedelta(days=101))
    with pytest.raises(EmptySnapshot, match=r"'AAPL', 'MSFT'.*start=2021-06-09"):
        manager.save_snapshot(late, AFTER)
    with pytest.raises(EmptySnapshot, match="as_of=2021-03-01"):  # nothing known yet
        manager.save_snapshot(both(), BASE)
    assert not manager.root.exists()


def test_unknown_symbol_and_bad_times_are_refused(manager: DatasetManager) -> None:
    with pytest.raises(UnknownSymbol, match="NOPE"):
        manager.save_snapshot(both(symbols=("AAPL", "NOPE")), AFTER)
    with pytest.raises(ValueError, match="in the future"):
        manager.save_snapshot(both(), NOW + timedelta(days=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        manager.save_snapshot(both(), datetime(2021, 6, 1))
    with pytest.raises(ValueError, match="before start"):
        both(end=BASE - timedelta(days=1))


def test_content_hash_depends_on_values_not_layout() -> None:
    table = pa.table(
        {
            "s": pa.array(["a", None, "ccc", ""]),
            "x": pa.array([1.0, 2.0, None, 0.0]),
            "t": pa.array([1, 2, 3, 4], pa.timestamp("us", tz="UTC")),
        }
    )
    digest = content_hash(table)
    rechunked = pa.Table.from_batches(table.to_batches(max_chunksize=1))
    assert rechunked.column(0).num_chunks == 4
    assert content_hash(rechunked) == digest
    padded = pa.concat_tables([table.slice(0, 1), table, table]).slice(1, 4)
    assert content_hash(padded) == digest

    def changed(column: str, values: list[object]) -> str:
        index = table.schema.get_field_index(column)
        field = table.schema.field(index)
        return content_hash(table.set_column(index, field, pa.array(values, field.type)))

    variants = {
        changed("x", [1.0, 2.0, None, -0.0]),  # sign of zero
        changed("x", [1.0, 2.0, 0.0, 0.0]),  # null is not zero
        changed("s", ["a", "", "ccc", ""]),  # null is not empty
        changed("s", ["a", None, "cc", "c"]),  # string boundaries
        content_hash(table.take([1, 0, 2, 3])),  # row order
        content_hash(table.rename_columns(["s", "x", "u"])),  # column names
    }
    assert digest not in variants and len(variants) == 6
