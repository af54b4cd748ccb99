"""Fan-out of live bars to WebSocket clients.

Each client has a bounded queue drained by its own writer task. Publishing never awaits a
client: when a queue is full the client is disconnected with code 1013 and a reason, so one
stalled browser can never delay the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict

from fastapi import WebSocket
from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

WS_CLIENTS = Gauge("sextant_ws_clients", "Connected WebSocket clients")
WS_SENT = Counter("sextant_ws_messages_sent_total", "Messages queued to WebSocket clients")
WS_DROPPED = Counter("sextant_ws_clients_dropped_total", "Clients disconnected as too slow")

SLOW_CLIENT_CODE = 1013  # "try again later": the standard close code for an overloaded peer


class Client:
    """One WebSocket connection: its subscriptions, queue and writer task."""

    def __init__(self, websocket: WebSocket, queue_size: int) -> None:
        self.websocket = websocket
        self.symbols: set[str] = set()
        self.queue: asyncio.Queue[str] = asyncio.Queue(maxsize=queue_size)
        self.closing = False
        self._writer = asyncio.create_task(self._drain(), name="ws-writer")

    async def _drain(self) -> None:
        while True:
            text = await self.queue.get()
            await self.websocket.send_text(text)

    def offer(self, text: str) -> bool:
        """Queue ``text`` for sending; False when the client is too far behind."""
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Stop the writer and close the socket (bounded wait: the peer may not be reading)."""
        self.closing = True
        self._writer.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.websocket.close(code=code, reason=reason), timeout=1.0)

    async def wait_writer(self) -> None:
        """Return when the writer task ends (socket error or close)."""
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._writer


class LiveHub:
    """Symbol -> clients index and the non-blocking broadcast."""

    def __init__(self, queue_size: int) -> None:
        self.queue_size = queue_size
        self._by_symbol: dict[str, set[Client]] = defaultdict(set)
        self._clients: set[Client] = set()

    def connect(self, websocket: WebSocket) -> Client:
        """Register a new client (no subscriptions yet)."""
        client = Client(websocket, self.queue_size)
        self._clients.add(client)
        WS_CLIENTS.inc()
        return client

    def disconnect(self, client: Client) -> None:
        """Forget a client and all its subscriptions (idempotent)."""
        if client not in self._clients:
            return
        self._clients.discard(client)
        for symbol in client.symbols:
            self._remove(symbol, client)
        client.symbols.clear()
        WS_CLIENTS.dec()

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
        """Queue ``text`` to every subscriber of ``symbol``; drop the ones that are full."""
        delivered = 0
        for client in list(self._by_symbol.get(symbol, ())):
            if client.closing:
                continue
            if client.offer(text):
                delivered += 1
                continue
            WS_DROPPED.inc()
            log.warning("dropping slow websocket client", extra={"symbol": symbol})
            self.disconnect(client)
            asyncio.get_running_loop().create_task(
                client.close(
                    SLOW_CLIENT_CODE,
                    f"slow consumer: more than {self.queue_size} messages behind",
                )
            )
        WS_SENT.inc(delivered)
        return delivered

    def _remove(self, symbol: str, client: Client) -> None:
        clients = self._by_symbol.get(symbol)
        if clients is not None:
            clients.discard(client)
            if not clients:
                del self._by_symbol[symbol]
