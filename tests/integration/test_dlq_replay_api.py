"""Replaying a dead letter over HTTP: admins only, refused while the value is still garbage, and
a fixed value lands on its topic with the original key and a replay mark."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import orjson
import pytest

from sextant_common import topics
from tests.integration.lake_probe import lake_counts
from tests.integration.test_dlq_kept import _dlq, _read_all, _send
from tests.support import auth_for, make_bar, running_services, wait_for

pytestmark = pytest.mark.integration


def test_an_admin_replays_a_fixed_dead_letter_through_the_gateway(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    with running_services(
        kafka_bootstrap,
        tmp_path,
        ["datasets", "gateway"],
        SEXTANT_DATASETS_GROUP=f"datasets-{uuid.uuid4().hex[:8]}",
        SEXTANT_BARS_PARTITIONS="1",
    ) as ports:
        gateway = f"http://127.0.0.1:{ports.gateway}"
        asyncio.run(_send(kafka_bootstrap, topics.MD_BARS, b'{"close": ', b"QQQ", []))
        body = wait_for(
            lambda: (b := _dlq(gateway, topic=topics.MD_BARS))["total"] >= 1 and b,
            60,
            "the garbage bar in GET /api/v1/dlq",
        )
        letter_id = body["letters"][0]["id"]
        url = f"{gateway}/api/v1/dlq/{letter_id}/replay"

        researcher = httpx.post(url, json={}, auth=auth_for(gateway, "researcher"), timeout=30)
        assert researcher.status_code == 403
        admin = auth_for(gateway, "admin")
        garbage = httpx.post(url, json={}, auth=admin, timeout=30)
        assert garbage.status_code == 422 and "dead-lettered again" in garbage.json()["detail"]
        unknown = httpx.post(
            f"{gateway}/api/v1/dlq/{'0' * 16}/replay", json={}, auth=admin, timeout=30
        )
        assert unknown.status_code == 404

        fixed = orjson.loads(make_bar("QQQ", source="test").to_bytes())
        done = httpx.post(
            url, json={"value": fixed, "note": "closed the brace"}, auth=admin, timeout=30
        )
        assert done.status_code == 200, done.text
        answer = done.json()
        assert answer["topic"] == topics.MD_BARS and answer["letter_id"] == letter_id
        wait_for(lambda: lake_counts(tmp_path / "lake")[0] == 1, 30, "the replayed bar stored")
        replayed = asyncio.run(_read_all(kafka_bootstrap, topics.MD_BARS))[-1]
        assert replayed.offset == answer["offset"] and replayed.key == b"QQQ"
        assert ("sextant.replayed-from", letter_id.encode()) in list(replayed.headers)
        shown = httpx.get(f"{gateway}/api/v1/dlq/{letter_id}", auth=admin, timeout=10).json()
        assert shown["replay_note"] == "closed the brace"
