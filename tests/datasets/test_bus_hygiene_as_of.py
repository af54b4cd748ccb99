"""Nothing is known after now: an ``as_of`` in the future is answered as of now, and said so.

Before, ``GET /v1/bars?as_of=2100-01-01`` echoed ``"as_of": "2100-01-01T23:59:59.999999Z"`` as
if the lake knew 2100.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sextant_common.timeparse import clamp_as_of
from sextant_datasets.app import build_app
from sextant_datasets.lake.writer import LakeWriter
from sextant_datasets.settings import DatasetsSettings
from tests.support import make_bar

DAY = datetime(2021, 3, 1, tzinfo=UTC)


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    settings = DatasetsSettings(kafka_bootstrap="127.0.0.1:9", data_dir=tmp_path)
    LakeWriter(settings.lake_dir).write([make_bar("AAPL", DAY)])
    return TestClient(build_app(settings))


def _moment(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_future_as_of_is_answered_as_of_now_with_a_warning(client: TestClient) -> None:
    before = datetime.now(UTC)
    body = client.get("/v1/bars", params={"symbol": "AAPL", "as_of": "2100-01-01"}).json()
    after = datetime.now(UTC)
    assert before <= _moment(body["as_of"]) <= after
    assert body["count"] == 1
    (warning,) = body["warnings"]
    assert "as_of 2100-01-01 is in the future" in warning and "as of now" in warning


def test_a_past_as_of_is_kept_and_warns_nothing(client: TestClient) -> None:
    body = client.get("/v1/bars", params={"symbol": "AAPL", "as_of": "2021-03-05"}).json()
    assert body["as_of"] == "2021-03-05T23:59:59.999999Z" and body["warnings"] == []
    latest = client.get("/v1/bars", params={"symbol": "AAPL"}).json()
    assert latest["warnings"] == []


def test_clamp_as_of() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert clamp_as_of(now - timedelta(days=1), now) == (now - timedelta(days=1), None)
    assert clamp_as_of(now, now) == (now, None)
    clamped, warning = clamp_as_of(now + timedelta(seconds=1), now)
    assert clamped == now and warning is not None and "2026-01-01T00:00:01Z" in warning
