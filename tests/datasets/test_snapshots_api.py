"""``/v1/snapshots`` over HTTP: status codes, bodies, and refusal of tampered snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sextant_datasets.api.routes.snapshots import router
from sextant_datasets.app import build_app
from sextant_datasets.lake.reader import LakeReader
from sextant_datasets.settings import DatasetsSettings
from sextant_datasets.snapshots import DatasetManager
from sextant_datasets.snapshots.manager import DATA_FILE
from tests.datasets.test_snapshots import flip_byte, write_lake

BODY: dict[str, Any] = {
    "symbols": ["MSFT", "AAPL"],
    "interval": "1d",
    "start": "2021-03-01",
    "end": "2021-03-31",
    "as_of": "2021-06-02T00:00:00Z",
}


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    """The snapshots router on a bare app that has only what the datasets app provides."""
    write_lake(tmp_path / "lake")
    app = FastAPI()
    app.state.reader = LakeReader(tmp_path / "lake")
    app.include_router(router)
    return TestClient(app)


def create(client: TestClient, **changes: Any) -> dict[str, Any]:
    response = client.post("/v1/snapshots", json={**BODY, **changes})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def test_create_returns_the_manifest(client: TestClient) -> None:
    manifest = create(client)
    assert len(manifest["id"]) == 32
    assert manifest["as_of"] == "2021-06-02T00:00:00Z"
    assert manifest["query"]["symbols"] == ["AAPL", "MSFT"]
    assert manifest["query"]["end"] == "2021-03-31T23:59:59.999999Z"  # a bare end date: whole day
    assert manifest["row_count"] == 40
    assert manifest["files"][0]["path"] == DATA_FILE
    assert manifest["content_hash"].startswith(manifest["id"])
    assert create(client, symbols=["AAPL", "MSFT"])["id"] == manifest["id"]  # same data


def test_list_get_and_verify(client: TestClient) -> None:
    first, second = create(client), create(client, symbols=["AAPL"])
    listing = client.get("/v1/snapshots").json()
    assert listing["count"] == 2
    assert [s["id"] for s in listing["data"]] == [first["id"], second["id"]]
    assert client.get(f"/v1/snapshots/{first['id']}").json() == first
    report = client.get(f"/v1/snapshots/{first['id']}/verify")
    assert report.status_code == 200
    assert report.json()["ok"] is True


def test_data_as_json_and_arrow(client: TestClient, tmp_path: Path) -> None:
    manifest = create(client)
    rows = client.get(f"/v1/snapshots/{manifest['id']}/data").json()
    assert rows["count"] == len(rows["rows"]) == 40
    assert rows["rows"][0]["symbol"] == "AAPL"
    assert rows["rows"][0]["ts_event"] == "2021-03-01T00:00:00Z"

    response = client.get(f"/v1/snapshots/{manifest['id']}/data", params={"format": "arrow"})
    assert response.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(response.content).read_all()
    manager = DatasetManager(LakeReader(tmp_path / "lake"))
    assert table.equals(manager.load_snapshot(manifest["id"]))


def test_tampered_snapshot_is_reported_and_refused(client: TestClient, tmp_path: Path) -> None:
    manifest = create(client)
    flip_byte(tmp_path / "snapshots" / manifest["id"] / DATA_FILE, 100)

    report = client.get(f"/v1/snapshots/{manifest['id']}/verify")
    assert report.status_code == 200
    assert report.json()["ok"] is False
    (check,) = report.json()["files"]
    assert check["path"] == DATA_FILE
    assert check["expected_sha256"] == manifest["files"][0]["sha256"] != check["actual_sha256"]

    refused = client.get(f"/v1/snapshots/{manifest['id']}/data")
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "failed verification" in detail["msg"]
    assert any(DATA_FILE in p and check["actual_sha256"] in p for p in detail["problems"])


@pytest.mark.parametrize("suffix", ["", "/verify", "/data"])
def test_unknown_id_is_404_and_malformed_is_422(client: TestClient, suffix: str) -> None:
    assert client.get(f"/v1/snapshots/{'0' * 32}{suffix}").status_code == 404
    assert client.get(f"/v1/snapshots/not-an-id{suffix}").status_code == 422


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"symbols": []}, "symbols", "at least 1"),
        ({"symbols": ["bad symbol"]}, "symbols", "pattern"),
        ({"start": "2030-01-01", "end": "2030-12-31"}, "start", "no 1d bars"),
        ({"as_of": "2021-02-01"}, "start", "as_of=2021-02-01"),
        ({"end": "2021-02-01"}, "end", "before start"),
        ({"as_of": "2199-01-01"}, "as_of", "future"),
        ({"start": "yesterday"}, "start", "pattern"),
        ({"start": "2008-02-30"}, "start", "pattern"),
        ({"interval": "7d"}, "interval", "Input should be"),
        ({"colour": "red"}, "colour", "Extra inputs"),
    ],
)
def test_bad_requests_name_the_field(
    client: TestClient, changes: dict[str, Any], field: str, message: str
) -> None:
    response = client.post("/v1/snapshots", json={**BODY, **changes})
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"][:2] == ["body", field]
    assert message in error["msg"]


def test_an_unknown_symbol_is_404_naming_it(client: TestClient) -> None:
    response = client.post("/v1/snapshots", json={**BODY, "symbols": ["AAPL", "NOPE"]})
    assert response.status_code == 404, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "symbols"]
    assert "NOPE" in error["msg"]


def test_router_plugs_into_the_datasets_app(tmp_path: Path) -> None:
    # What the lead's one line in app.py does; snapshots land in data_dir/snapshots.
    settings = DatasetsSettings(kafka_bootstrap="127.0.0.1:9", data_dir=tmp_path)
    write_lake(settings.lake_dir)
    app = build_app(settings)
    app.include_router(router)
    client = TestClient(app)  # lifespan (the Kafka consumer) not entered
    manifest = create(client)
    assert (tmp_path / "snapshots" / manifest["id"] / DATA_FILE).is_file()
    assert client.get("/v1/snapshots").json()["count"] == 1
