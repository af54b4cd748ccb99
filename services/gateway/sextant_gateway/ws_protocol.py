"""The gateway's WebSocket connections at the transport level: bounded buffers and hard drops.

uvicorn's protocol lets a client that stopped reading hold up to several MB in kernel and
transport buffers (Linux autotunes ``SO_SNDBUF`` to 4 MB), so a stalled client looks healthy
for tens of seconds, and its keepalive ``close()`` waits forever behind data the peer never
reads. This subclass

- caps the bytes in flight per connection: ``SO_SNDBUF`` and the transport's write-buffer high
  water mark are both ``send_buffer_bytes``, so a peer that stops reading blocks our writer
  after a few dozen KB and the hub sees it fall behind within its lag limit;
- publishes itself in the ASGI scope (``scope["extensions"]["sextant.ws"]``) so the hub can
  write pre-encoded frames straight to the transport (one encoding per message however many
  subscribers, no task switch per client), watch its flow control and abort it;
- aborts (TCP reset) instead of waiting when a keepalive ping goes unanswered, recording why.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from starlette.types import Scope
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

SCOPE_KEY = "sextant.ws"


class BoundedWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol with bounded buffers and an abortable transport."""

    send_buffer_bytes = 64 * 1024
    """Kernel send buffer and transport high water mark, bytes (each; the kernel doubles the
    first for its own bookkeeping)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.drop_reason: str | None = None
        """Why the server cut this connection (None while open or when the peer left)."""
        self.lost = asyncio.Event()
        """Set when the TCP connection is gone."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer_bytes)
        self.transport.set_write_buffer_limits(high=self.send_buffer_bytes)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.lost.set()

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope: Scope | None = getattr(self, "scope", None)
        if scope is not None:  # the handshake was accepted and the app task is scheduled
            scope["extensions"][SCOPE_KEY] = self

    def keepalive_timeout(self) -> None:
        """The peer did not answer a ping in time: it is not reading, so do not wait for it."""
        self.abort(f"no pong within {self.ping_timeout:g}s of a keepalive ping")

    @property
    def raw_frames_ok(self) -> bool:
        """Whether frames may bypass the protocol: open, and no extension (e.g. deflate)
        rewrites them."""
        return not self.conn.extensions and not self.close_sent

    def write_frame(self, frame: bytes) -> bool:
        """Write one complete frame from :func:`text_frame`; False if the connection is closing.

        Above the high water mark the transport clears :attr:`writable` (``pause_writing``):
        callers queue instead of writing until it is set again.
        """
        if self.close_sent or self.transport.is_closing():
            return False
        self.transport.write(frame)
        return True

    def abort(self, reason: str) -> None:
        """Reset the connection now, keeping the first reason given."""
        if self.drop_reason is None:
            self.drop_reason = reason
        self.stop_keepalive()
        self.close_sent = True
        self.transport.abort()


def connection_of(scope: Scope) -> BoundedWebSocketProtocol | None:
    """The protocol serving this WebSocket scope (None under a test client or another server)."""
    protocol = scope.get("extensions", {}).get(SCOPE_KEY)
    return protocol if isinstance(protocol, BoundedWebSocketProtocol) else None


def bounded_protocol(send_buffer_bytes: int) -> type[BoundedWebSocketProtocol]:
    """A protocol class for ``uvicorn.run(ws=...)`` with the given per-connection buffer size."""
    return type(
        "BoundedWebSocketProtocol",
        (BoundedWebSocketProtocol,),
        {"send_buffer_bytes": send_buffer_bytes},
    )


def text_frame(text: str) -> bytes:
    """One unmasked, unfragmented WebSocket text frame (RFC 6455 5.2), as a server sends it."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        head = bytes((0x81, size))
    elif size < 1 << 16:
        head = b"\x81\x7e" + size.to_bytes(2, "big")
    else:
        head = b"\x81\x7f" + size.to_bytes(8, "big")
    return head + payload
