"""Point-in-time guarantee: an as-of query returns what was known then, and nothing later.

One bar is stored, then a correction (revision 1) learned a day later. Asked before the original
was known the lake has nothing; between the two it has the original; from the correction on, the
correction. Checked through the LakeReader and through the service's ``GET /v1/bars?as_of=``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sextant_datasets.app import build_app
from sextant_datasets.lake.reader import BAR_COLUMNS, BarsQuery, LakeReader
from sextant_datasets.lake.writer import LakeWriter
from sextant_datasets.settings import DatasetsSettings
from tests.support import make_bar

DAY = datetime(2021, 3, 1, tzinfo=UTC)
ORIGINAL_KNOWN = DAY + timedelta(days=1)
CORRECTION_KNOWN = ORIGINAL_KNOWN + timedelta(days=1)
US = timedelta(microseconds=1)

CASES = [  # (as_of, closes expected, revisions expected)
    pytest.param(ORIGINAL_KNOWN - US, [], [], id="before-original-known"),
    pytest.param(ORIGINAL_KNOWN, [100.0], [0], id="original-known-inclusive"),
    pytest.param(CORRECTION_KNOWN - US, [100.0], [0], id="just-before-correction"),
    pytest.param(CORRECTION_KNOWN, [101.0], [1], id="correction-known-inclusive"),
    pytest.param(CORRECTION_KNOWN + timedelta(days=30), [101.0], [1], id="long-after"),
]


def store_bar_then_correction(root: Path) -> None:
    """The original and its correction arrive in separate writes, correction last, as in life."""
    writer = LakeWriter(root)
    writer.write([make_bar("AAPL", DAY, close=100.0, ts_known=ORIGINAL_KNOWN)])
    writer.write([make_bar("AAPL", DAY, close=101.0, revision=1, ts_known=CORRECTION_KNOWN)])
    # A later bar, known later still, must never leak into earlier as-of answers.
    writer.write(
        [make_bar("AAPL", DAY + timedelta(days=1), close=102.0, ts_known=CORRECTION_KNOWN + US)]
    )


def query(as_of: datetime) -> BarsQuery:
    return BarsQuery("AAPL", "1d", DAY, DAY, as_of)


@pytest.mark.parametrize(("as_of", "closes", "revisions"), CASES)
def test_reader_returns_what_was_known_at_as_of(
    tmp_path: Path, as_of: datetime, closes: list[float], revisions: list[int]
) -> None:
    store_bar_then_correction(tmp_path)
    _, rows = LakeReader(tmp_path).bars(query(as_of))
    bars = [dict(zip(BAR_COLUMNS, row, strict=True)) for row in rows]
    assert [b["close"] for b in bars] == closes
    assert [b["revision"] for b in bars] == revisions


def test_correction_written_before_original_changes_nothing(tmp_path: Path) -> None:
    # Arrival order on disk must not matter: knowledge time and revision decide.
    writer = LakeWriter(tmp_path)
    writer.write([make_bar("AAPL", DAY, close=101.0, revision=1, ts_known=CORRECTION_KNOWN)])
    writer.write([make_bar("AAPL", DAY, close=100.0, ts_known=ORIGINAL_KNOWN)])
    reader = LakeReader(tmp_path)
    assert [r[4] for r in reader.bars(query(ORIGINAL_KNOWN))[1]] == [100.0]
    assert [r[4] for r in reader.bars(query(CORRECTION_KNOWN))[1]] == [101.0]


def test_range_past_the_as_of_time_does_not_see_later_bars(tmp_path: Path) -> None:
    store_bar_then_correction(tmp_path)
    wide = BarsQuery("AAPL", "1d", DAY, DAY + timedelta(days=10), CORRECTION_KNOWN)
    _, rows = LakeReader(tmp_path).bars(wide)
    assert [(r[0], r[4]) for r in rows] == [("2021-03-01T00:00:00Z", 101.0)]


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    """The real datasets app over a lake in ``tmp_path``. The lifespan (the Kafka consumer) is
    never entered, so the bootstrap address is never dialled."""
    settings = DatasetsSettings(kafka_bootstrap="127.0.0.1:9", data_dir=tmp_path)
    store_bar_then_correction(settings.lake_dir)
    return TestClient(build_app(settings))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


@pytest.mark.parametrize(("as_of", "closes", "revisions"), CASES)
def test_http_bars_as_of(
    client: TestClient, as_of: datetime, closes: list[float], revisions: list[int]
) -> None:
    response = client.get(
        "/v1/bars",
        params={"symbol": "AAPL", "start": "2021-03-01", "end": "2021-03-01", "as_of": _iso(as_of)},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["as_of"] == _iso(as_of)
    assert body["count"] == len(closes)
    assert [b["close"] for b in body["bars"]] == closes
    assert [b["revision"] for b in body["bars"]] == revisions


def test_http_bare_date_as_of_covers_the_whole_day(client: TestClient) -> None:
    # as_of=2021-03-02 means the end of that day: the original (known at 00:00) but not the
    # correction (known on the 3rd).
    response = client.get(
        "/v1/bars", params={"symbol": "AAPL", "end": "2021-03-31", "as_of": "2021-03-02"}
    )
    assert [(b["ts_event"], b["close"]) for b in response.json()["bars"]] == [
        ("2021-03-01T00:00:00Z", 100.0)
    ]
