"""The request telemetry every service's app gets from ``add_health_and_metrics``: request ids,
access lines, the request's context on every log line, HTTP metrics by route template."""

from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI, HTTPException

from sextant_common import request_context
from sextant_common.logging_setup import JsonFormatter
from sextant_common.request_telemetry import UNMATCHED
from sextant_common.telemetry import add_health_and_metrics

app_log = logging.getLogger("tests.things")


def things_app(service: str) -> FastAPI:
    """A small service: one templated route that logs, one that fails, one that raises."""
    app = FastAPI()

    @app.get("/v1/things/{thing_id}")
    async def get_thing(thing_id: str) -> dict[str, Any]:
        app_log.info("looking up a thing", extra={"thing_id": thing_id})
        return {"thing": thing_id, "forward": request_context.outgoing_headers()}

    @app.get("/v1/broken")
    async def broken() -> None:
        raise HTTPException(status_code=503, detail="down for the test")

    @app.get("/v1/crash")
    async def crash() -> None:
        raise RuntimeError("a bug")

    add_health_and_metrics(app, service, {"alive": lambda: True})
    return app


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """Every log line the process wrote so far in the test, as the JSON the services print."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    saved_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [orjson.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(saved_level)


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://things")


async def test_a_sane_request_id_is_kept_others_are_replaced_and_every_answer_carries_it() -> None:
    async with client(things_app("things")) as http:
        kept = await http.get("/v1/things/1", headers={"x-request-id": "web-7f3a.2:x_Y"})
        assert kept.headers["x-request-id"] == "web-7f3a.2:x_Y"
        made = await http.get("/v1/things/1")
        assert uuid.UUID(made.headers["x-request-id"])
        for hostile in (b"a" * 129, b"id with spaces", "id\u00e9".encode(), b"x;drop", b""):
            answer = await http.get("/v1/things/1", headers={"x-request-id": hostile})
            assert uuid.UUID(answer.headers["x-request-id"]), hostile
        for path, status in (("/v1/nowhere", 404), ("/v1/broken", 503), ("/v1/crash", 500)):
            answer = await http.get(path, headers={"x-request-id": f"req-{status}"})
            assert answer.status_code == status
            assert answer.headers["x-request-id"] == f"req-{status}", path
        thing = (await http.get("/v1/things/1", headers={"x-request-id": "fwd-1"})).json()
        assert thing["forward"]["x-request-id"] == "fwd-1"  # passed on to the next service


async def test_one_access_line_per_request_and_every_line_carries_the_request(
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    async with client(things_app("things")) as http:
        await http.get(
            "/v1/things/42",
            params={"token": "secret-token"},
            headers={"x-request-id": "req-42", "x-sextant-user": "ada"},
        )
        await http.get("/v1/crash", headers={"x-request-id": "req-crash"})
    lines = log_lines()
    mine = [line for line in lines if line.get("request_id") == "req-42"]
    assert [line["logger"] for line in mine] == ["tests.things", "sextant.access"]
    app_line, access = mine
    for line in mine:
        assert line["service"] == "things" and line["user"] == "ada"
        assert len(line["trace_id"]) == 32 and line["trace_id"] == app_line["trace_id"]
    assert access["level"] == "info" and access["ts"]
    assert access["method"] == "GET" and access["status"] == 200
    assert access["path"] == "/v1/things/42" and access["route"] == "/v1/things/{thing_id}"
    assert 0 < access["latency_ms"] < 1_000
    assert "secret-token" not in orjson.dumps(mine).decode()  # the query string is never logged
    (crash,) = [
        line
        for line in lines
        if line.get("request_id") == "req-crash" and line["logger"] == "sextant.access"
    ]
    assert crash["level"] == "error" and crash["status"] == 500


async def test_the_edge_does_not_take_a_callers_user_header(
    log_lines: Callable[[], list[dict[str, Any]]],
) -> None:
    async with client(things_app("gateway")) as http:
        answer = await http.get(
            "/v1/things/1", headers={"x-request-id": "edge-1", "x-sextant-user": "mallory"}
        )
    assert "x-sextant-user" not in answer.json()["forward"]
    access = [line for line in log_lines() if line["logger"] == "sextant.access"]
    assert [(line["request_id"], line["user"]) for line in access] == [("edge-1", None)]


def _series(metrics: str, name: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith(name + "{")
    }


async def test_metrics_count_by_route_template_and_never_by_raw_path() -> None:
    async with client(things_app("things")) as http:
        before = _series((await http.get("/metrics")).text, "sextant_http_requests_total")
        for thing in ("a", "b", "c"):
            await http.get(f"/v1/things/{thing}")
        await http.get("/v1/no/such/path/9f86d081")
        await http.request("BREW", "/v1/things/a")
        after = (await http.get("/metrics")).text
    counts = _series(after, "sextant_http_requests_total")

    def added(series: str) -> float:
        return counts.get(series, 0.0) - before.get(series, 0.0)

    series = 'sextant_http_requests_total{{method="{}",route="{}",status="{}"}}'
    assert added(series.format("GET", "/v1/things/{thing_id}", 200)) == 3
    assert added(series.format("GET", UNMATCHED, 404)) == 1
    assert added(series.format("OTHER", "/v1/things/{thing_id}", 405)) == 1
    assert "9f86d081" not in after and "/v1/things/a" not in after
    bucket = (
        'sextant_http_request_duration_seconds_count{method="GET",route="/v1/things/{thing_id}"}'
    )
    assert _series(after, "sextant_http_request_duration_seconds_count")[bucket] >= 3
