"""Cross-site "simple" requests are refused: POST/PUT/PATCH need ``application/json`` (415
otherwise) at the gateway and at every service, and no CORS header is sent unless configured."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sextant_common.content_type import RequireJsonContentType, is_json_content_type
from tests.conftest import Stack
from tests.support import in_process_gateway

SIMPLE_TYPES = ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"]
BACKTEST = '{"symbol": "SPX", "strategy": "50SMA.200EMA"}'


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("application/json", True),
        ("Application/JSON; charset=UTF-8", True),
        ('application/json;charset="utf-8"', True),
        ("application/json; charset=latin-1", False),
        ("application/jsonp", False),
        ("text/plain", False),
        ("multipart/form-data; boundary=x", False),
        ("", False),
        (None, False),
    ],
)
def test_only_json_media_types_pass(value: str | None, ok: bool) -> None:
    assert is_json_content_type(value) is ok


def _app() -> TestClient:
    app = FastAPI()
    app.add_middleware(RequireJsonContentType)

    @app.post("/run")
    def run() -> dict[str, bool]:
        return {"ran": True}

    @app.get("/read")
    def read() -> dict[str, bool]:
        return {"read": True}

    return TestClient(app)


@pytest.mark.parametrize("content_type", [*SIMPLE_TYPES, None])
def test_middleware_refuses_non_json_posts_before_the_route_runs(content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = _app().post("/run", content=BACKTEST if content_type else None, headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/json"
    assert "application/json" in response.json()["detail"]


def test_middleware_lets_json_and_reads_through() -> None:
    client = _app()
    headers = {"content-type": "application/json; charset=utf-8"}
    assert client.post("/run", content="{}", headers=headers).json() == {"ran": True}
    assert client.get("/read").json() == {"read": True}


def test_no_cors_headers_unless_origins_are_configured(tmp_path: Path) -> None:
    # No lifespan: CORS, auth and the content-type check answer before any service is called.
    origin = {"origin": "https://evil.example"}
    preflight = {**origin, "access-control-request-method": "POST"}
    closed = in_process_gateway(tmp_path)
    assert (
        "access-control-allow-origin"
        not in closed.options("/api/v1/backtests", headers=preflight).headers
    )
    refused = closed.post(
        "/api/v1/backtests", content=BACKTEST, headers={**origin, "content-type": "text/plain"}
    )
    assert refused.status_code == 415
    assert "access-control-allow-origin" not in refused.headers

    opened = in_process_gateway(tmp_path, cors_origins=["https://research.example"])
    allowed = opened.options(
        "/api/v1/backtests",
        headers={
            **preflight,
            "origin": "https://research.example",
            "access-control-request-headers": "authorization,content-type",
        },
    )
    assert allowed.headers["access-control-allow-origin"] == "https://research.example"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    other = opened.options("/api/v1/backtests", headers=preflight)
    assert "access-control-allow-origin" not in other.headers


@pytest.mark.integration
def test_no_cors_posts_start_nothing_at_the_gateway_or_the_services(full_stack: Stack) -> None:
    """What a page on another origin can send with ``fetch(url, {mode: "no-cors"})``."""
    gateway = full_stack.gateway_url
    for content_type in [*SIMPLE_TYPES, None]:
        headers = {"origin": "https://evil.example"}
        if content_type is not None:
            headers["content-type"] = content_type
        for path in ("/api/v1/backtests", "/api/v1/sweeps", "/api/v1/datasets/storage/compact"):
            # A no-cors request cannot carry an Authorization header: refused before anything.
            anonymous = httpx.post(f"{gateway}{path}", content=BACKTEST, headers=headers)
            assert anonymous.status_code == 401, (path, content_type, anonymous.text)
            # And even with a token (say, a page that somehow had one), the media type is refused.
            response = httpx.post(
                f"{gateway}{path}", content=BACKTEST, headers=headers, auth=full_stack.auth("admin")
            )
            assert response.status_code == 415, (path, content_type, response.text)
            assert "application/json" in response.json()["detail"]
            assert "access-control-allow-origin" not in response.headers
        # the services refuse it too, should anything reach them directly
        for base, path in (
            (f"http://127.0.0.1:{full_stack.ports.quant}", "/v1/backtests"),
            (full_stack.datasets_url, "/v1/storage/compact"),
            (f"http://127.0.0.1:{full_stack.ports.ingest}", "/v1/fetch"),
        ):
            assert httpx.post(f"{base}{path}", content=BACKTEST, headers=headers).status_code == 415
    queued = httpx.post(
        f"{gateway}/api/v1/backtests",
        content=BACKTEST,
        headers={"content-type": "application/json; charset=utf-8"},
        auth=full_stack.auth(),
    )
    assert queued.status_code == 202, queued.text
