"""Bound request bodies at the gateway: 413 ``{"detail": ..., "limit": N}`` past ``N`` bytes.

A plain ASGI middleware, so it runs before any route and never buffers: a declared
``Content-Length`` over the limit is refused before the app is called, and a chunked or
streamed body is counted as the app reads it, the read that would pass the limit failing
instead of returning its bytes (the app never holds more than ``N``). Whatever the app then
answers (FastAPI turns a failed body read into a 400) is replaced by the 413, provided the app
had not started its answer yet. The 413 closes the connection, since the rest of the body is
left unread. WebSocket and lifespan scopes pass through.

Starlette's ``RequestBodyLimitMiddleware`` does the streamed half too but answers in plain text
and calls the app even when ``Content-Length`` is already over the limit (so a route would run
its auth and quota charge for a request it will refuse).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sextant_common.asgi_json import send_json

DEFAULT_MAX_BODY_BYTES = 1 << 20
"""1 MiB: far above any JSON body the API takes (a 500-symbol request is ~10 KB)."""
CONTENT_TOO_LARGE = 413


class BodyTooLarge(Exception):
    """Raised from ``receive`` when the body read so far passes the limit."""


class BodyLimit:
    """ASGI middleware: HTTP request bodies over ``max_bytes`` get a 413 JSON answer."""

    def __init__(self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must be >= 0, got {max_bytes}")
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(send)
            return
        guard = _Guard(receive, send, self.max_bytes)
        try:
            await self.app(scope, guard.receive, guard.send)
        except Exception:
            if not guard.exceeded or guard.started:
                raise  # not ours, or an answer already under way: the server aborts it
        if guard.exceeded and not guard.started:
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        detail = f"request body exceeds {self.max_bytes} bytes"
        await send_json(
            send,
            CONTENT_TOO_LARGE,
            {"detail": detail, "limit": self.max_bytes},
            [(b"connection", b"close")],
        )


class _Guard:
    """One request's byte count: ``receive`` fails past the limit; ``send`` drops what the
    app answers after that (the middleware sends the 413 instead)."""

    def __init__(self, receive: Receive, send: Send, max_bytes: int) -> None:
        self._receive = receive
        self._send = send
        self._max_bytes = max_bytes
        self._received = 0
        self.exceeded = False
        self.started = False
        """The app began its answer before the limit was passed."""

    async def receive(self) -> Message:
        if self.exceeded:
            raise BodyTooLarge
        message = await self._receive()
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            if self._received > self._max_bytes:
                self.exceeded = True
                raise BodyTooLarge
        return message

    async def send(self, message: Message) -> None:
        if self.exceeded and not self.started:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the HTTP server refuses it before we see it
    return None
