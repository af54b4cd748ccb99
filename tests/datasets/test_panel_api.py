"""``GET /v1/panel`` over HTTP: the router on a bare FastAPI app over a real lake written by the
cataloged writer (as the bar sink writes it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sextant_common.events import AssetClass, Interval
from sextant_common.versioned_cache import VersionedCache
from sextant_datasets.api.routes import panel
from sextant_datasets.catalog import Catalog, CatalogedWriter
from sextant_datasets.cold import ColdStorageManager
from sextant_datasets.lake.reader import LakeReader
from tests.support import make_bar

DAY0 = datetime(2023, 12, 28, tzinfo=UTC)


@pytest.fixture
def lake(tmp_path: Path) -> tuple[TestClient, CatalogedWriter]:
    reader = LakeReader(tmp_path)
    catalog = Catalog(reader)
    writer = CatalogedWriter(tmp_path, catalog)
    days = [DAY0 + timedelta(days=d) for d in range(6)]  # across a year boundary
    writer.write(
        [
            *(make_bar("AAA", day, close=10.0 + i) for i, day in enumerate(days)),
            *(make_bar("AAA", day, close=999.0, source="simulated") for day in days),
            *(
                make_bar("SIM", day, close=50.0 + i, source="simulated")
                for i, day in enumerate(days)
            ),
            make_bar("AAA", days[2], close=12.5, revision=1),  # a correction of 2023-12-30
        ]
    )
    app = FastAPI()
    app.state.reader = reader
    app.state.catalog = catalog
    app.state.cold_storage = ColdStorageManager(tmp_path, grace_seconds=0)
    app.state.response_cache = VersionedCache[tuple[bytes, str]]()
    app.include_router(panel.router)
    return TestClient(app), writer


def read(body: bytes) -> pa.Table:
    return pa.ipc.open_stream(body).read_all()


def test_every_instrument_once_from_its_preferred_source_at_its_latest_revision(
    lake: tuple[TestClient, CatalogedWriter],
) -> None:
    client, _ = lake
    response = client.get("/v1/panel")
    assert response.status_code == 200
    assert response.headers["content-type"] == panel.ARROW_STREAM
    table = read(response.content)
    assert table.schema == panel.PANEL_SCHEMA
    rows = table.to_pylist()
    aaa = [r for r in rows if r["instrument_id"] == "AAA"]
    assert {r["source"] for r in aaa} == {"test"}  # the real source, not simulated
    assert [r["close"] for r in aaa] == [10.0, 11.0, 12.5, 13.0, 14.0, 15.0]
    assert [r["ts_event"] for r in aaa] == [DAY0 + timedelta(days=d) for d in range(6)]
    sim = [r for r in rows if r["instrument_id"] == "SIM"]
    assert [r["source"] for r in sim] == ["simulated"] * 6
    assert {r["asset_class"] for r in rows} == {AssetClass.EQUITY.value}
    narrowed = read(client.get("/v1/panel", params={"start": "2024-01-01"}).content)
    assert narrowed.num_rows == 2 * 2  # AAA and SIM on 2024-01-01 and 01-02


def test_etag_moves_with_daily_bars_only(lake: tuple[TestClient, CatalogedWriter]) -> None:
    client, writer = lake
    etag = client.get("/v1/panel").headers["etag"]
    assert etag.startswith('W/"')
    assert client.get("/v1/panel", headers={"If-None-Match": etag}).status_code == 304
    writer.write([make_bar("AAA", DAY0, close=1.0, interval=Interval.M1)])  # intraday
    assert client.get("/v1/panel", headers={"If-None-Match": etag}).status_code == 304
    writer.write([make_bar("AAA", DAY0 + timedelta(days=6), close=16.0)])
    fresh = client.get("/v1/panel", headers={"If-None-Match": etag})
    assert fresh.status_code == 200
    assert fresh.headers["etag"] != etag
    assert read(fresh.content).column("close").to_pylist()[5:7] == [15.0, 16.0]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"start": "someday"}, "start"), ({"start": "2024-01-02", "end": "2024-01-01"}, "end")],
)
def test_bad_range_names_the_field(
    lake: tuple[TestClient, CatalogedWriter], params: dict[str, str], field: str
) -> None:
    client, _ = lake
    response = client.get("/v1/panel", params=params)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == field
