"""Fan-out of live messages to WebSocket clients, and the rules for dropping slow ones.

Each client has a bounded queue drained by its own writer task, so publishing never awaits a
client. A client is dropped, with close code 1013 and a reason, when

- its queue is full (``queue_size`` messages behind), or
- the oldest message waiting for it is older than ``max_lag_s`` (a peer that stops reading
  blocks our writer once its few dozen KB of socket buffer are full: see ``ws_protocol``), or
- it does not answer a keepalive ping (the protocol aborts it; the hub counts it).

A drop tries to deliver the close frame for ``close_grace_s``; if the peer does not complete
the closing handshake by then (it is not reading), the connection is reset. Every drop is
counted in ``sextant_ws_clients_dropped_total`` and, by cause, ``sextant_ws_client_drops_total``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict, deque

from fastapi import WebSocket
from prometheus_client import Counter, Gauge

from sextant_gateway.ws_protocol import BoundedWebSocketProtocol, text_frame

log = logging.getLogger(__name__)

WS_CLIENTS = Gauge("sextant_ws_clients", "Connected WebSocket clients")
WS_SENT = Counter("sextant_ws_messages_sent_total", "Messages queued to WebSocket clients")
WS_DROPPED = Counter("sextant_ws_clients_dropped_total", "Clients disconnected by the server")
WS_DROPS = Counter(
    "sextant_ws_client_drops_total",
    "Clients disconnected by the server, by cause (queue_full, lagging, keepalive)",
    ["cause"],
)

SLOW_CLIENT_CODE = 1013  # "try again later": the standard close code for an overloaded peer
WATCH_INTERVAL_S = 0.25


Outgoing = tuple[str, bytes]
"""A message as text (for the ASGI path) and as a ready WebSocket frame (for the direct path)."""


def outgoing(text: str) -> Outgoing:
    """Encode ``text`` once for every subscriber."""
    return text, text_frame(text)


class Client:
    """One WebSocket connection: its subscriptions, pending messages and writer task.

    With a :class:`BoundedWebSocketProtocol` underneath, a message is written straight to the
    transport when nothing is pending and the transport is below its high water mark, so a
    healthy client costs one ``write`` per message and no task switch; otherwise it waits in
    the bounded queue for the writer task. Other servers (tests) go through ASGI ``send``.
    """

    def __init__(
        self,
        websocket: WebSocket,
        queue_size: int,
        connection: BoundedWebSocketProtocol | None,
    ) -> None:
        self.websocket = websocket
        self.connection = connection
        self._direct = connection if connection is not None and connection.raw_frames_ok else None
        self.symbols: set[str] = set()
        self.closing = False
        self._limit = queue_size
        self._pending: deque[tuple[float, Outgoing]] = deque()  # (monotonic time queued, msg)
        self._ready = asyncio.Event()
        self._writer = asyncio.create_task(self._drain(), name="ws-writer")

    async def _drain(self) -> None:
        pending = self._pending
        connection = self._direct
        while True:
            if not pending:
                self._ready.clear()
                await self._ready.wait()
            elif connection is not None:
                await connection.writable.wait()
                while pending and connection.writable.is_set():
                    if not connection.write_frame(pending[0][1][1]):
                        return  # the connection is closing
                    pending.popleft()
            else:
                # The message stays at the head until the transport took it, so lag() sees it.
                await self.websocket.send_text(pending[0][1][0])
                pending.popleft()

    def offer(self, message: Outgoing) -> bool:
        """Send or queue ``message``; False when the client is ``queue_size`` messages behind."""
        if self.closing:
            return True  # on its way out: nothing more is sent
        pending = self._pending
        connection = self._direct
        if not pending and connection is not None and connection.writable.is_set():
            connection.write_frame(message[1])  # False only while closing: nothing to do
            return True
        if len(pending) >= self._limit:
            return False
        pending.append((time.monotonic(), message))
        self._ready.set()
        return True

    def lag(self, now: float) -> float:
        """Seconds the oldest message not yet handed to the socket has waited (0 if none)."""
        return now - self._pending[0][0] if self._pending else 0.0

    async def close(self, code: int, reason: str, grace_s: float) -> None:
        """Stop the writer and close; reset the connection if the peer does not complete the
        closing handshake within ``grace_s`` (it is not reading)."""
        self.closing = True
        self._writer.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.websocket.close(code=code, reason=reason), grace_s)
        connection = self.connection
        if connection is None:
            return
        try:
            await asyncio.wait_for(connection.lost.wait(), grace_s)
        except TimeoutError:
            connection.abort(reason)

    async def wait_writer(self) -> None:
        """Return when the writer task ends (socket error or close)."""
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._writer


class LiveHub:
    """Channel -> clients index, the non-blocking broadcast and the slow-client watchdog."""

    def __init__(self, queue_size: int, max_lag_s: float = 2.0, close_grace_s: float = 1.0):
        self.queue_size = queue_size
        self.max_lag_s = max_lag_s
        self.close_grace_s = close_grace_s
        self._by_symbol: dict[str, set[Client]] = defaultdict(set)
        self._clients: set[Client] = set()
        self._closing: set[asyncio.Task[None]] = set()

    def connect(
        self, websocket: WebSocket, connection: BoundedWebSocketProtocol | None = None
    ) -> Client:
        """Register a new client (no subscriptions yet)."""
        client = Client(websocket, self.queue_size, connection)
        self._clients.add(client)
        WS_CLIENTS.inc()
        return client

    def disconnect(self, client: Client) -> None:
        """Forget a client and all its subscriptions (idempotent).

        A connection the protocol reset on its own (keepalive timeout) is counted as a drop.
        """
        if client not in self._clients:
            return
        self._clients.discard(client)
        for symbol in client.symbols:
            self._remove(symbol, client)
        client.symbols.clear()
        WS_CLIENTS.dec()
        reset = client.connection.drop_reason if client.connection is not None else None
        if reset is not None and not client.closing:
            self._count_drop("keepalive", reset)

    def subscribe(self, client: Client, symbols: list[str]) -> None:
        """Add ``symbols`` to the client's subscriptions."""
        for symbol in symbols:
            client.symbols.add(symbol)
            self._by_symbol[symbol].add(client)

    def unsubscribe(self, client: Client, symbols: list[str]) -> None:
        """Remove ``symbols`` from the client's subscriptions."""
        for symbol in symbols:
            client.symbols.discard(symbol)
            self._remove(symbol, client)

    def wants(self, symbol: str) -> bool:
        """Whether any client is subscribed to ``symbol`` (lets callers skip parsing)."""
        return symbol in self._by_symbol

    def publish(self, symbol: str, text: str) -> int:
        """Send ``text`` to every subscriber of ``symbol``; drop the ones that are full."""
        delivered = 0
        message = outgoing(text)
        for client in list(self._by_symbol.get(symbol, ())):
            if client.closing:
                continue
            if client.offer(message):
                delivered += 1
            else:
                self.drop(
                    client, "queue_full", f"slow consumer: more than {self.queue_size} behind"
                )
        WS_SENT.inc(delivered)
        return delivered

    def drop(self, client: Client, cause: str, reason: str) -> None:
        """Disconnect ``client`` as too slow: close 1013 with ``reason``, reset if undeliverable."""
        if client.closing:
            return
        self._count_drop(cause, reason)
        client.closing = True
        self.disconnect(client)
        task = asyncio.get_running_loop().create_task(
            client.close(SLOW_CLIENT_CODE, reason, self.close_grace_s)
        )
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def drop_lagging(self, now: float) -> int:
        """Drop every client whose oldest pending message waited longer than ``max_lag_s``."""
        lagging = [c for c in self._clients if not c.closing and c.lag(now) > self.max_lag_s]
        for client in lagging:
            reason = (
                f"slow consumer: a message waited {client.lag(now):.1f}s "
                f"(limit {self.max_lag_s:g}s)"
            )
            self.drop(client, "lagging", reason)
        return len(lagging)

    async def watch(self) -> None:
        """Check for lagging clients every ``WATCH_INTERVAL_S`` until cancelled."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            self.drop_lagging(time.monotonic())

    def _count_drop(self, cause: str, reason: str) -> None:
        WS_DROPPED.inc()
        WS_DROPS.labels(cause).inc()
        log.warning("dropping websocket client", extra={"cause": cause, "reason": reason})

    def _remove(self, symbol: str, client: Client) -> None:
        clients = self._by_symbol.get(symbol)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._by_symbol[symbol]
