"""``WS /ws``: live bars and job progress.

Send ``{"subscribe": ["SPX", "job:<job_id>"]}`` / ``{"unsubscribe": [...]}``; receive
``{"type": "bar", "bar": {...}}`` for symbols and ``{"type": "job", "event": {...}}`` for jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from sextant_gateway.api.deps import hub_of
from sextant_gateway.hub import Client, LiveHub

router = APIRouter()


def _parse_command(text: str, max_symbols: int) -> tuple[str, list[str]]:
    """Return ("subscribe" | "unsubscribe", symbols) or raise ValueError saying what is wrong."""
    try:
        message: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValueError("message is not JSON") from None
    if not isinstance(message, dict) or len(message) != 1:
        raise ValueError('expected {"subscribe": [...]} or {"unsubscribe": [...]}')
    action, symbols = next(iter(message.items()))
    if action not in ("subscribe", "unsubscribe"):
        raise ValueError(f"unknown action {action!r}: use subscribe or unsubscribe")
    if not isinstance(symbols, list) or not all(
        isinstance(s, str) and 0 < len(s) <= 64 for s in symbols
    ):
        raise ValueError(f"{action}: expected a list of symbol strings")
    if len(symbols) > max_symbols:
        raise ValueError(f"{action}: at most {max_symbols} symbols per connection")
    return action, symbols


@router.websocket("/ws")
async def live_bars(websocket: WebSocket) -> None:
    """Stream live bars of the subscribed symbols as ``{"type": "bar", "bar": {...}}``."""
    hub: LiveHub = hub_of(websocket.app.state)
    max_symbols: int = websocket.app.state.settings.ws_max_symbols
    await websocket.accept()
    client = hub.connect(websocket)
    reader = asyncio.create_task(_read_commands(websocket, client, hub, max_symbols))
    try:
        # Ends when the peer leaves (reader) or the writer fails / is cancelled as too slow.
        await asyncio.wait(
            [reader, asyncio.ensure_future(client.wait_writer())],
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        hub.disconnect(client)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        if not client.closing:
            await client.close()


async def _read_commands(
    websocket: WebSocket, client: Client, hub: LiveHub, max_symbols: int
) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            text = await websocket.receive_text()
            try:
                action, symbols = _parse_command(text, max_symbols)
            except ValueError as exc:
                client.offer(orjson.dumps({"type": "error", "detail": str(exc)}).decode())
                continue
            if action == "subscribe":
                if len(client.symbols | set(symbols)) > max_symbols:
                    detail = f"at most {max_symbols} symbols per connection"
                    client.offer(orjson.dumps({"type": "error", "detail": detail}).decode())
                    continue
                hub.subscribe(client, symbols)
            else:
                hub.unsubscribe(client, symbols)
            reply = {"type": "subscribed", "symbols": sorted(client.symbols)}
            client.offer(orjson.dumps(reply).decode())
