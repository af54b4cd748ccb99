"""Request body limit: a real uvicorn serving a small FastAPI app behind BodyLimit, fed with a
declared Content-Length and with chunked streams (httpx and a raw socket)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request, WebSocket
from pydantic import BaseModel
from starlette.types import ASGIApp
from websockets.sync.client import connect

from sextant_common.broker_launcher import free_port
from sextant_common.http_errors import install_error_handlers
from sextant_gateway.body_limit import DEFAULT_MAX_BODY_BYTES, BodyLimit

LIMIT = 100_000
REFUSAL = {"detail": f"request body exceeds {LIMIT} bytes", "limit": LIMIT}


class Item(BaseModel):
    name: str


@dataclass
class Served:
    """The running server and what its routes saw."""

    url: str
    port: int
    calls: list[str] = field(default_factory=list)
    """Paths whose endpoint ran."""
    streamed: list[int] = field(default_factory=list)
    """Bytes the streaming endpoint had read, after each chunk."""


def _app(served: Served) -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        served.calls.append("/echo")
        return {"bytes": len(await request.body())}

    @app.post("/stream")
    async def stream(request: Request) -> dict[str, int]:
        served.calls.append("/stream")
        total = 0
        async for chunk in request.stream():
            total += len(chunk)
            served.streamed.append(total)
        return {"bytes": total}

    @app.post("/items")
    async def items(item: Item) -> dict[str, int]:
        served.calls.append("/items")
        return {"name": len(item.name)}

    @app.websocket("/ws")
    async def ws(websocket: WebSocket) -> None:
        await websocket.accept()
        message = await websocket.receive_bytes()
        await websocket.send_text(str(len(message)))
        await websocket.close()

    return app


@pytest.fixture(params=["wrapping the app", "added as middleware"])
def served(request: pytest.FixtureRequest) -> Iterator[Served]:
    """The app under uvicorn in a thread, behind BodyLimit either way the gateway may wire it:
    around the whole app, or ``add_middleware`` inside FastAPI's error handling (with the
    handlers every Sextant app installs)."""
    port = free_port()
    served = Served(f"http://127.0.0.1:{port}", port)
    fastapi_app = _app(served)
    app: ASGIApp = fastapi_app
    if request.param == "wrapping the app":
        app = BodyLimit(fastapi_app, LIMIT)
    else:
        install_error_handlers(fastapi_app)
        fastapi_app.add_middleware(BodyLimit, max_bytes=LIMIT)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="body-limit-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield served
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _raw_exchange(port: int, head: bytes, chunks: Iterator[bytes]) -> tuple[int, bytes, bool]:
    """Send ``head`` then each chunk; then read the answer until the server closes.
    Returns (status, body, closed by the server)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        for chunk in chunks:
            sock.sendall(chunk)
        answer = b""
        closed = False
        while True:
            data = sock.recv(65_536)
            if not data:
                closed = True
                break
            answer += data
            head_end = answer.find(b"\r\n\r\n")
            if head_end >= 0 and b"content-length" not in answer[:head_end].lower():
                break
            if head_end >= 0:
                length = int(answer.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                if len(answer) >= head_end + 4 + length:
                    closed = sock.recv(1) == b""
                    break
    status = int(answer.split(b" ", 2)[1])
    return status, answer[answer.find(b"\r\n\r\n") + 4 :], closed


def _chunked(total: int, size: int = 10_000) -> Iterator[bytes]:
    """``total`` bytes of chunked transfer coding, without the final zero-size chunk."""
    sent = 0
    while sent < total:
        n = min(size, total - sent)
        yield f"{n:x}\r\n".encode() + b"a" * n + b"\r\n"
        sent += n


def test_the_default_limit_is_one_mebibyte() -> None:
    assert BodyLimit(FastAPI()).max_bytes == DEFAULT_MAX_BODY_BYTES == 1_048_576


def test_bodies_up_to_the_limit_reach_the_app(served: Served) -> None:
    exact = httpx.post(f"{served.url}/echo", content=b"x" * LIMIT, timeout=10)
    assert exact.status_code == 200 and exact.json() == {"bytes": LIMIT}
    streamed = httpx.post(
        f"{served.url}/stream", content=(b"y" * 1000 for _ in range(LIMIT // 1000)), timeout=10
    )
    assert streamed.status_code == 200 and streamed.json() == {"bytes": LIMIT}
    assert streamed.request.headers["transfer-encoding"] == "chunked"
    item = httpx.post(f"{served.url}/items", json={"name": "n" * 1000}, timeout=10)
    assert item.json() == {"name": 1000}


def test_a_declared_length_over_the_limit_is_a_413_before_the_app_runs(served: Served) -> None:
    over = httpx.post(f"{served.url}/echo", content=b"x" * (LIMIT + 1), timeout=10)
    assert over.status_code == 413
    assert over.json() == REFUSAL
    assert over.headers["content-type"] == "application/json"
    # a terabyte announced, nothing sent: answered at once, not after waiting for the body
    started = time.monotonic()
    status, body, closed = _raw_exchange(
        served.port,
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: 1000000000000\r\n\r\n",
        iter(()),
    )
    assert (status, json.loads(body), closed) == (413, REFUSAL, True)
    assert time.monotonic() - started < 2
    assert served.calls == []


def _chunked_head(path: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()


def test_a_stream_is_cut_by_the_byte_that_passes_the_limit(served: Served) -> None:
    """The app reads the limit exactly; one byte more and, the stream not even finished, the
    413 comes back."""

    def body() -> Iterator[bytes]:
        yield from _chunked(LIMIT)
        deadline = time.monotonic() + 10
        while not served.streamed or served.streamed[-1] < LIMIT:
            assert time.monotonic() < deadline, served.streamed
            time.sleep(0.01)
        yield b"1\r\n!\r\n"

    status, answer, closed = _raw_exchange(served.port, _chunked_head("/stream"), body())
    assert (status, json.loads(answer), closed) == (413, REFUSAL, True)
    assert served.calls == ["/stream"] and served.streamed[-1] == LIMIT


@pytest.mark.parametrize("path", ["/echo", "/items"])
def test_a_chunked_body_over_the_limit_is_a_413_whatever_the_app_answered(
    served: Served, path: str
) -> None:
    """FastAPI answers 400 for a body it failed to read (a pydantic body included): the
    middleware's 413 replaces it."""
    status, answer, closed = _raw_exchange(served.port, _chunked_head(path), _chunked(LIMIT + 1))
    assert (status, json.loads(answer), closed) == (413, REFUSAL, True)


def test_an_httpx_stream_over_the_limit_is_a_413(served: Served) -> None:
    def body() -> Iterator[bytes]:
        for _ in range(11):
            yield b"z" * 10_000
        time.sleep(0.5)  # the answer arrives while the client still has more to send
        yield b"z" * 10_000

    response = httpx.post(f"{served.url}/stream", content=body(), timeout=10)
    assert response.status_code == 413
    assert response.json() == REFUSAL
    assert all(total <= LIMIT for total in served.streamed)


def test_websockets_pass_through_whatever_their_size(served: Served) -> None:
    with connect(f"ws://127.0.0.1:{served.port}/ws", max_size=None) as ws:
        ws.send(b"w" * (3 * LIMIT))
        assert ws.recv(timeout=10) == str(3 * LIMIT)
