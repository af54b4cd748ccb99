"""Auth at the running gateway: sign-in and refresh, every protected route of the OpenAPI
document refusing a missing token (401) and too small a role (403), the WebSocket's first
message, the metrics credential, user administration and the ``sextant`` command."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

from sextant_gateway.auth.policy import Role
from sextant_gateway.quotas import Quotas, QuotaSettings
from tests.conftest import Stack
from tests.support import in_process_gateway

pytestmark = pytest.mark.integration

ROLES = ("viewer", "researcher", "admin")
JSON = {"content-type": "application/json"}


def sign_in(stack: Stack, role: str) -> dict[str, Any]:
    username, password = stack.credentials(role)
    response = httpx.post(
        f"{stack.gateway_url}/api/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def refresh(stack: Stack, token: str) -> httpx.Response:
    return httpx.post(
        f"{stack.gateway_url}/api/v1/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": token},
        timeout=30,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_sign_in_refresh_and_reuse_of_a_spent_refresh_token(full_stack: Stack) -> None:
    session = sign_in(full_stack, "researcher")
    assert session["token_type"] == "bearer" and session["expires_in"] == 900
    assert session["role"] == "researcher"
    me = httpx.get(
        f"{full_stack.gateway_url}/api/v1/auth/me", headers=bearer(session["access_token"])
    )
    assert me.json() == {"username": "test-researcher", "role": "researcher"}

    renewed = refresh(full_stack, session["refresh_token"])
    assert (
        renewed.status_code == 200 and renewed.json()["refresh_token"] != session["refresh_token"]
    )
    reused = refresh(full_stack, session["refresh_token"])
    assert reused.status_code == 401 and "reused" in reused.json()["detail"]
    # the thief's reuse ended the session: the legitimate new token is revoked too
    assert refresh(full_stack, renewed.json()["refresh_token"]).status_code == 401

    username, _ = full_stack.credentials("researcher")
    wrong = httpx.post(
        f"{full_stack.gateway_url}/api/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": "not the password"},
    )
    nobody = httpx.post(
        f"{full_stack.gateway_url}/api/v1/auth/token",
        data={"grant_type": "password", "username": "nobody", "password": "not the password"},
    )
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json() == {"detail": "incorrect username or password"}
    missing = httpx.post(
        f"{full_stack.gateway_url}/api/v1/auth/token", data={"grant_type": "password"}
    )
    assert missing.status_code == 400 and "username" in missing.json()["detail"]
    bad_grant = httpx.post(
        f"{full_stack.gateway_url}/api/v1/auth/token", data={"grant_type": "client_credentials"}
    )
    assert bad_grant.status_code == 422 and "grant_type" in bad_grant.text

    other = sign_in(full_stack, "viewer")
    out = httpx.post(
        f"{full_stack.gateway_url}/api/v1/auth/logout",
        json={"refresh_token": other["refresh_token"]},
    )
    assert out.status_code == 204
    assert refresh(full_stack, other["refresh_token"]).status_code == 401


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def _operations(stack: Stack) -> list[tuple[str, str, str | None]]:
    document = httpx.get(f"{stack.gateway_url}/openapi.json", timeout=60).json()
    assert "OAuth2PasswordBearer" in document["components"]["securitySchemes"]
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                found.append((method.upper(), path, operation.get("x-required-role")))
    return found


def test_every_protected_route_refuses_no_token_and_too_small_a_role(full_stack: Stack) -> None:
    operations = _operations(full_stack)
    declared = {(m, p): r for m, p, r in operations}
    # what the issue names, as the document must state it
    assert declared[("POST", "/api/v1/backtests")] == "researcher"
    assert declared[("POST", "/api/v1/sweeps")] == "researcher"
    assert declared[("POST", "/api/v1/fetch")] == "researcher"
    assert declared[("POST", "/api/v1/datasets/storage/compact")] == "admin"
    assert declared[("GET", "/api/v1/users")] == "admin"
    assert declared[("POST", "/api/v1/auth/keys/rotate")] == "admin"
    assert any(
        p.startswith("/api/v1/dlq") and m == "POST" and r == "admin"
        for (m, p), r in declared.items()
    )
    assert declared[("GET", "/api/v1/bars")] == "viewer"
    assert declared[("POST", "/api/v1/auth/token")] is None
    tokens = {role: sign_in(full_stack, role)["access_token"] for role in ROLES}
    checked = 0
    with httpx.Client(base_url=full_stack.gateway_url, timeout=60) as http:
        for method, path, role in operations:
            if role is None:
                continue
            url = _concrete(path)
            body = {"content": b"{}", "headers": JSON} if method != "GET" else {}
            anonymous = http.request(method, url, **body)  # type: ignore[arg-type]
            assert anonymous.status_code == 401, (method, path, anonymous.text)
            assert anonymous.headers["www-authenticate"].startswith("Bearer")
            assert "detail" in anonymous.json()
            rank = ROLES.index(role)
            if rank > 0:
                below = ROLES[rank - 1]
                headers = {**body.get("headers", {}), **bearer(tokens[below])}  # type: ignore[dict-item]
                refused = http.request(method, url, content=body.get("content"), headers=headers)
                assert refused.status_code == 403, (method, path, below, refused.text)
                assert refused.json()["detail"] == f"requires role {role}; you are {below}"
            checked += 1
    assert checked >= 40


def test_public_routes_need_no_token_and_a_garbage_token_is_a_401(full_stack: Stack) -> None:
    gateway = full_stack.gateway_url
    for path in ("/health", "/openapi.json", "/docs", "/", "/api/v1/auth/jwks", "/asyncapi.json"):
        assert httpx.get(f"{gateway}{path}", timeout=60).status_code == 200, path
    for header in ("Bearer", "Bearer x.y.z", "Basic dXNlcjpwYXNz", "bearer " + "a" * 5000):
        answer = httpx.get(f"{gateway}/api/v1/instruments", headers={"Authorization": header})
        assert answer.status_code == 401, header[:20]
    assert httpx.get(f"{gateway}/metrics").status_code == 401
    viewer = sign_in(full_stack, "viewer")["access_token"]
    admin = sign_in(full_stack, "admin")["access_token"]
    assert httpx.get(f"{gateway}/metrics", headers=bearer(viewer)).status_code == 403
    metrics = httpx.get(f"{gateway}/metrics", headers=bearer(admin))
    assert metrics.status_code == 200 and "sextant_auth_failures_total" in metrics.text


async def _ws_exchange(url: str, first: str | bytes | None) -> tuple[int | None, str]:
    async with websockets.connect(url) as ws:
        if first is not None:
            await ws.send(first)
        try:
            async with asyncio.timeout(15):
                while True:
                    await ws.recv()
        except websockets.ConnectionClosed as closed:
            return (
                closed.rcvd.code if closed.rcvd else None,
                closed.rcvd.reason if closed.rcvd else "",
            )
    return None, ""


def test_the_websocket_needs_a_token_in_its_first_message(full_stack: Stack) -> None:
    url = f"ws://127.0.0.1:{full_stack.ports.gateway}/ws"
    assert asyncio.run(_ws_exchange(url, orjson.dumps({"subscribe": ["SPX"]}).decode())) == (
        1008,
        'authenticate first: send {"auth": "<access token>"}',
    )
    code, reason = asyncio.run(_ws_exchange(url, b"\x00binary"))
    assert code == 1008 and "authenticate first" in reason
    code, reason = asyncio.run(_ws_exchange(url, orjson.dumps({"auth": "x.y.z"}).decode()))
    assert code == 1008 and "token" in reason
    code, reason = asyncio.run(_ws_exchange(url, None))
    assert code == 1008 and "no auth message" in reason

    async def authenticated() -> list[dict[str, Any]]:
        token = sign_in(full_stack, "viewer")["access_token"]
        async with websockets.connect(url) as ws:
            await ws.send(orjson.dumps({"auth": token}).decode())
            await ws.send(orjson.dumps({"subscribe": ["SPX"]}).decode())
            return [orjson.loads(await ws.recv()) for _ in range(2)]

    answers = asyncio.run(authenticated())
    assert answers == [
        {"type": "auth", "username": "test-viewer", "role": "viewer"},
        {"type": "subscribed", "symbols": ["SPX"]},
    ]


def test_admins_manage_users_and_a_disabled_user_loses_the_session(full_stack: Stack) -> None:
    admin = bearer(sign_in(full_stack, "admin")["access_token"])
    users = f"{full_stack.gateway_url}/api/v1/users"
    created = httpx.post(
        users,
        json={"username": "dave", "password": "correct horse battery", "role": "viewer"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert "password" not in created.text
    again = httpx.post(
        users, json={"username": "dave", "password": "correct horse battery"}, headers=admin
    )
    assert again.status_code == 409
    short = httpx.post(users, json={"username": "eve", "password": "short"}, headers=admin)
    assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "password"]
    session = httpx.post(
        f"{full_stack.gateway_url}/api/v1/auth/token",
        data={"grant_type": "password", "username": "dave", "password": "correct horse battery"},
    ).json()
    promoted = httpx.patch(f"{users}/dave", json={"role": "researcher"}, headers=admin)
    assert promoted.json()["role"] == "researcher"
    renewed = refresh(full_stack, session["refresh_token"]).json()
    assert renewed["role"] == "researcher"  # the next access token carries the new role
    assert httpx.patch(f"{users}/dave", json={"disabled": True}, headers=admin).status_code == 200
    assert refresh(full_stack, renewed["refresh_token"]).status_code == 401
    assert httpx.delete(f"{users}/dave", headers=admin).status_code == 204
    assert httpx.delete(f"{users}/dave", headers=admin).status_code == 404
    listed = [u["username"] for u in httpx.get(users, headers=admin).json()]
    assert "dave" not in listed and "test-admin" in listed


def test_the_sextant_command_creates_the_first_admin_without_a_default_password(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "SEXTANT_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "sextant_gateway.cli"]
    made = subprocess.run(
        [*command, "users", "create", "root", "--role", "admin", "--password-stdin"],
        input="a very long secret\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    assert "created root (admin)" in made.stdout
    listed = subprocess.run(
        [*command, "users", "list"], env=env, capture_output=True, text=True, timeout=60
    )
    assert listed.stdout.startswith("root  admin")
    weak = subprocess.run(
        [*command, "users", "create", "bob", "--password-stdin"],
        input="short\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert weak.returncode == 1 and "password: must have 12" in weak.stderr
    rotated = subprocess.run(
        [*command, "keys", "rotate"], env=env, capture_output=True, text=True, timeout=60
    )
    assert rotated.returncode == 0 and rotated.stdout.startswith("new signing key")


def test_failed_sign_ins_are_throttled_per_user_name_and_address(tmp_path: Path) -> None:
    client = in_process_gateway(tmp_path, role=None)
    app = client.app
    app.state.quotas = Quotas.from_settings(  # type: ignore[attr-defined]
        QuotaSettings(quotas={"login": "10/15minutes"}, redis_url=None)
    )
    app.state.auth.create_user("erin", "the right password", Role.viewer)  # type: ignore[attr-defined]
    form = {"grant_type": "password", "username": "erin", "password": "a wrong guess"}
    answers = [client.post("/api/v1/auth/token", data=form) for _ in range(11)]
    assert [a.status_code for a in answers] == [401] * 10 + [429]
    refused = answers[-1]
    assert 0 < int(refused.headers["retry-after"]) <= 900
    assert refused.headers["ratelimit-limit"] == "10"
    assert refused.headers["ratelimit-remaining"] == "0"
    assert "login quota" in refused.json()["detail"]
    # even the right password waits now, from this address; other names are not affected
    right = {**form, "password": "the right password"}
    assert client.post("/api/v1/auth/token", data=right).status_code == 429
    other = {**form, "username": "frank"}
    assert client.post("/api/v1/auth/token", data=other).status_code == 401


def test_quotas_refuse_with_headers_and_allow_again_after_the_window(tmp_path: Path) -> None:
    queued = 0

    def quant(request: httpx.Request) -> httpx.Response:
        nonlocal queued
        queued += 1
        return httpx.Response(202, json={"job_id": f"job{queued}"})

    client = in_process_gateway(tmp_path)
    client.app.state.quotas = Quotas.from_settings(  # type: ignore[attr-defined]
        QuotaSettings(quotas={"backtests": "2/3s", "sweeps": "10/hour"}, redis_url=None)
    )
    client.app.state.services = {  # type: ignore[attr-defined]
        "quant": httpx.AsyncClient(transport=httpx.MockTransport(quant), base_url="http://quant")
    }
    body = {"symbol": "SPX", "strategy": "BH"}
    first, second, third = (client.post("/api/v1/backtests", json=body) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (202, 202, 429)
    assert first.headers["ratelimit-policy"] == "2;w=3"
    assert (first.headers["ratelimit-remaining"], second.headers["ratelimit-remaining"]) == (
        "1",
        "0",
    )
    assert 1 <= int(third.headers["retry-after"]) <= 3
    assert third.json()["detail"].startswith("backtests quota")
    assert queued == 2  # the refused one never reached the service
    time.sleep(float(third.headers["retry-after"]) + 0.1)
    assert client.post("/api/v1/backtests", json=body).status_code == 202

    # a sweep costs its grid: 2 symbols x 4 pairs with fast < slow = 8 of 10 units
    grid = {"symbols": ["SPX", "spx", "COMP"], "fast": [10, 20, 200], "slow": [50, 100]}
    assert client.post("/api/v1/sweeps", json=grid).headers["ratelimit-remaining"] == "2"
    again = client.post("/api/v1/sweeps", json=grid)
    assert again.status_code == 429
    huge = {"symbols": ["A", "B", "C"], "fast": [1, 2], "slow": [5, 6]}  # 12 > 10: never fits
    too_big = client.post("/api/v1/sweeps", json=huge)
    assert too_big.status_code == 422 and "more than a whole window" in too_big.json()["detail"]


def test_a_body_over_the_limit_is_a_413_naming_it(full_stack: Stack) -> None:
    url = f"{full_stack.gateway_url}/api/v1/quant/risk/var"
    big = b'{"symbols": ["SPX"], "pad": "' + b"x" * 1_100_000 + b'"}'
    answer = httpx.post(url, content=big, headers=JSON, auth=full_stack.auth("viewer"), timeout=30)
    assert answer.status_code == 413
    assert answer.json()["limit"] == 1_048_576 and "1048576" in answer.json()["detail"]
