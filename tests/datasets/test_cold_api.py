"""``/v1/storage`` over HTTP: the router mounted on a bare FastAPI app over a real lake."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sextant_common.events import AssetClass
from sextant_datasets.api.routes import storage
from sextant_datasets.catalog import Catalog
from sextant_datasets.cold import ColdStorageManager
from sextant_datasets.lake.reader import LakeReader
from sextant_datasets.lake.writer import LakeWriter
from tests.datasets.test_gaps import daily_bars, nyse_sessions

PLANTED = {date(2024, 5, 14), date(2024, 5, 15), date(2024, 5, 16)}


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    sessions = [d for d in nyse_sessions() if d not in PLANTED]
    writer = LakeWriter(tmp_path)
    for first in range(0, len(sessions), 50):  # several files per partition
        writer.write(daily_bars("SPX", sessions[first : first + 50], AssetClass.INDEX))
    app = FastAPI()
    app.state.reader = LakeReader(tmp_path)
    app.state.catalog = Catalog(app.state.reader)
    app.state.cold_storage = ColdStorageManager(tmp_path, grace_seconds=0)
    app.include_router(storage.router)
    return TestClient(app)


def field_of(response: object) -> list[str]:
    detail = response.json()["detail"]  # type: ignore[attr-defined]
    return [entry["loc"][-1] for entry in detail]


def test_no_gap_of_more_than_one_trading_day_is_a_query(client: TestClient) -> None:
    response = client.get(
        "/v1/storage/gaps", params={"symbol": "SPX", "interval": "1d", "max_gap": 1}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False and body["calendar"] == "XNYS"
    assert body["gaps"] == [
        {"first_missing": "2024-05-14", "last_missing": "2024-05-16", "sessions": 3}
    ]
    assert body["max_gap_sessions"] == 3
    wider = client.get("/v1/storage/gaps", params={"symbol": "SPX", "max_gap": 3}).json()
    assert wider["ok"] is True
    after = client.get("/v1/storage/gaps", params={"symbol": "SPX", "start": "2024-06-01"}).json()
    assert after["ok"] is True and after["start"] == "2024-06-01"


def test_stats_compact_and_integrity(client: TestClient) -> None:
    stats = client.get("/v1/storage/stats").json()
    assert stats["rows"] == len(nyse_sessions()) - 3 and stats["partitions"] == 2
    assert stats["files"] > 2
    (series,) = stats["series"]
    assert (series["dataset"], series["interval"], series["symbol"]) == ("bars", "1d", "SPX")

    compacted = client.post("/v1/storage/compact", params={"symbol": "SPX", "force": True})
    assert compacted.status_code == 200
    result = compacted.json()
    assert result["files_before"] == stats["files"] and result["files_after"] == 2
    assert result["rows_after"] == stats["rows"] and result["duplicates_dropped"] == 0
    after = client.get("/v1/storage/stats", params={"symbol": "SPX", "interval": "1d"}).json()
    assert (after["files"], after["rows"]) == (2, stats["rows"])

    integrity = client.get("/v1/storage/integrity").json()
    assert integrity["ok"] is True and len(integrity["files"]) == 2
    assert all(len(f["sha256"]) == 64 for f in integrity["files"])
    short = client.get("/v1/storage/integrity", params={"include_files": False}).json()
    assert "files" not in short


@pytest.mark.parametrize(
    "path",
    ["/v1/storage/gaps", "/v1/storage/stats", "/v1/storage/integrity"],
)
def test_unknown_symbol_is_404(client: TestClient, path: str) -> None:
    response = client.get(path, params={"symbol": "NOPE"})
    assert response.status_code == 404 and "NOPE" in response.json()["detail"]
    assert client.post("/v1/storage/compact", params={"symbol": "NOPE"}).status_code == 404


def test_missing_interval_or_source_is_404(client: TestClient) -> None:
    assert (
        client.get("/v1/storage/gaps", params={"symbol": "SPX", "interval": "1h"}).status_code
        == 404
    )
    assert (
        client.get("/v1/storage/gaps", params={"symbol": "SPX", "source": "x"}).status_code == 404
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"symbol": "SPX", "interval": "2d"}, "interval"),
        ({"symbol": "SPX", "max_gap": -1}, "max_gap"),
        ({"symbol": "SPX", "max_gap": "x"}, "max_gap"),
        ({"symbol": "SPX", "calendar": "NOPE"}, "calendar"),
        ({"symbol": "SPX", "start": "yesterday"}, "start"),
        ({"symbol": "SPX", "start": "2024-02-01", "end": "2024-01-01"}, "end"),
        ({"symbol": "S P X"}, "symbol"),
        ({"symbol": "SPX", "colour": "red"}, "colour"),
        ({}, "symbol"),
    ],
)
def test_bad_gap_parameters_are_422_naming_the_field(
    client: TestClient, params: dict[str, object], field: str
) -> None:
    response = client.get("/v1/storage/gaps", params=params)
    assert response.status_code == 422
    assert field in field_of(response)


def test_bad_compaction_and_stats_parameters_are_422(client: TestClient) -> None:
    response = client.post("/v1/storage/compact", params={"max_files": 0})
    assert response.status_code == 422 and "max_files" in field_of(response)
    response = client.get("/v1/storage/stats", params={"interval": "1w"})
    assert response.status_code == 422 and "interval" in field_of(response)


def test_the_manager_is_made_from_the_reader_when_the_app_has_none(tmp_path: Path) -> None:
    LakeWriter(tmp_path).write(daily_bars("SPX", nyse_sessions()[:5]))
    app = FastAPI()
    app.state.reader = LakeReader(tmp_path)
    app.include_router(storage.router)
    assert TestClient(app).get("/v1/storage/stats").json()["rows"] == 5
    assert isinstance(app.state.cold_storage, ColdStorageManager)
