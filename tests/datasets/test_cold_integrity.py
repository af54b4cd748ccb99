"""Integrity check on real files: it finds the corruption, schema drift, duplicates and misplaced
rows planted here, and lists a correct sha256 for every file."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from sextant_datasets.cold import ColdStorageManager, CompactionPolicy
from sextant_datasets.lake.layout import Partition
from sextant_datasets.lake.writer import LakeWriter, bars_to_table
from tests.support import bar_series, make_bar


def lake(root: Path) -> list[Path]:
    LakeWriter(root).write(bar_series(2, 30))  # S000, S001: 2015-01-01 .. 2015-01-30
    return sorted(root.rglob("*.parquet"))


def test_a_clean_lake_is_ok_and_every_file_has_its_sha256(tmp_path: Path) -> None:
    files = lake(tmp_path)
    report = ColdStorageManager(tmp_path).integrity()
    body = report.public()
    assert report.ok and body["ok"] is True
    assert body["files_checked"] == 2 and body["rows"] == 60
    listed = {f["path"]: f["sha256"] for f in body["files"]}
    assert listed == {
        str(p.relative_to(tmp_path)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files
    }
    assert body["duplicates"]["keys"] == 0 and body["wrong_partition"]["rows"] == 0


def test_planted_problems_are_each_reported(tmp_path: Path) -> None:
    files = lake(tmp_path)
    s000 = files[0].parent
    (s000 / "part-corrupt.parquet").write_bytes(b"PAR1 this is not a parquet file PAR1")
    pq.write_table(
        pa.table({"ts_event": [1, 2], "close": ["a", "b"]}), s000 / "part-schema.parquet"
    )
    shutil.copy(files[1], files[1].with_name("part-copy.parquet"))  # 30 duplicate keys of S001
    stray = [
        make_bar("S000", datetime(2016, 5, 1, tzinfo=UTC)),  # belongs in year=2016
        make_bar("S001", datetime(2015, 5, 1, tzinfo=UTC)),  # belongs under symbol=S001
    ]
    pq.write_table(bars_to_table(stray), s000 / "part-stray.parquet")

    report = ColdStorageManager(tmp_path).integrity()
    body = report.public()

    assert body["ok"] is False and body["files_checked"] == 6
    assert [Path(f["path"]).name for f in body["unreadable"]] == ["part-corrupt.parquet"]
    (schema,) = body["wrong_schema"]
    assert Path(schema["path"]).name == "part-schema.parquet"
    assert "missing instrument_id" in schema["problem"]
    assert "ts_event is int64" in schema["problem"]
    assert body["duplicates"]["keys"] == 30 and body["duplicates"]["surplus_rows"] == 30
    example = body["duplicates"]["examples"][0]
    assert example["instrument_id"] == "S001" and example["copies"] == 2
    assert example["ts_event"] == "2015-01-01T00:00:00Z"
    assert len(example["files"]) == 2
    misplaced = body["wrong_partition"]
    assert misplaced["rows"] == 2
    assert {(e["instrument_id"], e["ts_event"][:4]) for e in misplaced["examples"]} == {
        ("S000", "2016"),
        ("S001", "2015"),
    }
    assert all(
        e["partition"] == str(Partition("1d", "S000", 2015, None).path(Path()))
        for e in misplaced["examples"]
    )


def test_intraday_rows_in_a_year_only_directory_are_misplaced(tmp_path: Path) -> None:
    from sextant_common.events import Interval

    directory = Partition("1m", "AAPL", 2021, None).path(tmp_path)  # should have month=MM
    directory.mkdir(parents=True)
    bar = make_bar("AAPL", datetime(2021, 3, 1, 14, 30, tzinfo=UTC), interval=Interval.M1)
    pq.write_table(bars_to_table([bar]), directory / "part-x.parquet")
    assert ColdStorageManager(tmp_path).integrity().wrong_partition_rows == 1


def test_compaction_leaves_a_partition_with_an_unusable_file_alone(tmp_path: Path) -> None:
    files = lake(tmp_path)
    LakeWriter(tmp_path).write(bar_series(2, 40))  # a second file in both partitions
    corrupt = files[0].parent / "part-corrupt.parquet"
    corrupt.write_bytes(b"garbage")
    result = ColdStorageManager(tmp_path, grace_seconds=0).compact(
        policy=CompactionPolicy(force=True)
    )
    assert result.partitions_compacted == 1
    (skipped,) = result.skipped
    assert skipped["directory"].endswith("symbol=S000/year=2015")
    assert "part-corrupt.parquet: unreadable" in skipped["reason"]
    assert len(list(files[0].parent.glob("*.parquet"))) == 3  # nothing deleted there
    assert len(list(files[1].parent.glob("*.parquet"))) == 1


def test_integrity_can_be_narrowed_to_one_symbol(tmp_path: Path) -> None:
    lake(tmp_path)
    report = ColdStorageManager(tmp_path).integrity(symbol="S001", interval="1d")
    assert len(report.files) == 1 and report.ok
