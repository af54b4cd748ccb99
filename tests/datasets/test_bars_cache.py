"""Latest-bar answers are reused until the lake changes, never served stale after a flush."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from sextant_common.versioned_cache import VersionedCache
from sextant_datasets.app import build_app
from sextant_datasets.catalog import Catalog, CatalogedWriter
from sextant_datasets.lake.reader import CatalogEntry, LakeReader
from sextant_datasets.lake.writer import LakeWriter
from sextant_datasets.settings import DatasetsSettings
from tests.support import make_bar

DAY = datetime(2021, 3, 1, tzinfo=UTC)


def test_cache_entries_die_with_the_lake_version_and_the_ttl() -> None:
    cache = VersionedCache[bytes](max_entries=2, ttl_s=60)
    cache.put("a", 1, b"x")
    assert cache.get("a", 1) == b"x"
    assert cache.get("a", 2) is None  # a flush happened
    cache.put("a", 2, b"y")
    cache.put("b", 2, b"z")
    cache.put("c", 2, b"w")  # evicts the least recently used
    assert cache.get("a", 2) is None and cache.get("c", 2) == b"w"
    assert VersionedCache[bytes](ttl_s=0).get("a", 2) is None


def test_a_flush_makes_the_next_latest_query_see_new_bars(tmp_path: Path) -> None:
    settings = DatasetsSettings(kafka_bootstrap="127.0.0.1:9", data_dir=tmp_path)
    writer = LakeWriter(settings.lake_dir)
    writer.write([make_bar("AAPL", DAY)])
    app = build_app(settings)
    client = TestClient(app)
    first = client.get("/v1/bars", params={"symbol": "AAPL"}).json()
    assert first["count"] == 1
    writer.write([make_bar("AAPL", DAY + timedelta(days=1))])
    assert client.get("/v1/bars", params={"symbol": "AAPL"}).json()["count"] == 1  # cached
    app.state.catalog.invalidate()  # what the bar consumer does after every flush
    assert client.get("/v1/bars", params={"symbol": "AAPL"}).json()["count"] == 2
    explicit = client.get("/v1/bars", params={"symbol": "AAPL", "as_of": "2021-03-02"}).json()
    assert explicit["count"] == 1  # as-of queries bypass the cache


def test_an_unchanged_answer_is_a_304_to_a_client_holding_its_etag(tmp_path: Path) -> None:
    settings = DatasetsSettings(kafka_bootstrap="127.0.0.1:9", data_dir=tmp_path)
    writer = LakeWriter(settings.lake_dir)
    writer.write([make_bar("AAPL", DAY)])
    app = build_app(settings)
    client = TestClient(app)
    first = client.get("/v1/bars", params={"symbol": "AAPL"})
    etag = first.headers["etag"]
    again = client.get("/v1/bars", params={"symbol": "AAPL"}, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    app.state.catalog.invalidate()  # a flush that did not touch AAPL: same body, same tag
    assert (
        client.get(
            "/v1/bars", params={"symbol": "AAPL"}, headers={"If-None-Match": etag}
        ).status_code
        == 304
    )
    writer.write([make_bar("AAPL", DAY + timedelta(days=1))])
    app.state.catalog.invalidate()
    changed = client.get("/v1/bars", params={"symbol": "AAPL"}, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.json()["count"] == 2
    assert changed.headers["etag"] != etag


def test_the_catalog_follows_flushes_without_rescanning(tmp_path: Path) -> None:
    settings = DatasetsSettings(kafka_bootstrap="127.0.0.1:9", data_dir=tmp_path)
    reader = LakeReader(settings.lake_dir)
    catalog = Catalog(reader)
    writer = CatalogedWriter(settings.lake_dir, catalog)
    writer.write([make_bar("AAPL", DAY)])
    assert [(e.instrument_id, e.rows) for e in catalog.entries()] == [("AAPL", 1)]
    scans = 0
    real_scan = reader.catalog

    def counting_scan() -> list[CatalogEntry]:
        nonlocal scans
        scans += 1
        return real_scan()

    reader.catalog = counting_scan  # type: ignore[method-assign]
    writer.write([make_bar("AAPL", DAY + timedelta(days=1)), make_bar("MSFT", DAY)])
    writer.write([make_bar("AAPL", DAY)])  # a redelivered duplicate: not counted
    entries = {e.instrument_id: e for e in catalog.entries()}
    assert scans == 0
    assert entries["AAPL"].rows == 2 and entries["AAPL"].last == DAY + timedelta(days=1)
    assert entries["MSFT"].rows == 1 and entries["MSFT"].first == DAY
    assert catalog.entries() == sorted(
        LakeReader(settings.lake_dir).catalog(), key=lambda e: (e.instrument_id, e.source)
    )  # the same listing a full scan gives
