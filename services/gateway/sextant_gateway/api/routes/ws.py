"""``WS /ws``: live bars, live analytics and job progress.

The first message authenticates: ``{"auth": "<access token>"}`` (the token is never in the URL,
where proxies and logs would keep it), answered ``{"type": "auth", "username": ..., "role":
...}``. Anything else first, or nothing within :data:`AUTH_TIMEOUT_S`, closes the connection
with code 1008 and the reason. A connection stays authenticated until it closes.

Then send ``{"subscribe": ["SPX", "analytics:SPX", "job:<job_id>"]}`` / ``{"unsubscribe": [...]}``;
receive ``{"type": "bar", "bar": {...}}`` for symbols, ``{"type": "analytics", "analytics":
{...}}`` (EWMA volatility, 1-day VaR, rolling beta, filtered regime probabilities after each live
bar) for ``analytics:<symbol>`` and ``{"type": "job", "event": {...}}`` for jobs.

A browser always sends ``Origin``: the handshake is refused (HTTP 403) unless it is the
gateway's own origin (the ``Host`` the browser connected to) or one of ``SEXTANT_CORS_ORIGINS``,
so a page on another site cannot subscribe on a visitor's behalf. Clients that are not browsers
send no ``Origin`` and are let through.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from prometheus_client import Counter

from sextant_gateway.api.deps import hub_of
from sextant_gateway.auth.tokens import KeyRing, Principal, TokenRejected
from sextant_gateway.hub import Client, LiveHub, outgoing
from sextant_gateway.ws_protocol import connection_of

router = APIRouter()

WS_REJECTED = Counter(
    "sextant_ws_origin_rejected_total", "WebSocket handshakes refused for their Origin"
)


AUTH_TIMEOUT_S = 10.0
"""How long a new connection has to send its token."""
MAX_TOKEN_CHARS = 4_096

WS_AUTH_REFUSED = Counter(
    "sextant_ws_auth_refused_total", "WebSocket connections closed for a missing or bad token"
)

MAX_CHANNEL_CHARS = 80
"""Longest channel name: ``analytics:`` plus a 64-character instrument id fits."""


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
        isinstance(s, str) and 0 < len(s) <= MAX_CHANNEL_CHARS for s in symbols
    ):
        raise ValueError(
            f"{action}: expected a list of channel strings of 1 to {MAX_CHANNEL_CHARS} characters"
        )
    if len(symbols) > max_symbols:
        raise ValueError(f"{action}: at most {max_symbols} symbols per connection")
    return action, symbols


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """Whether a handshake's ``Origin`` may connect: absent (not a browser), the page's own
    origin (same scheme-less host and port as ``Host``), or listed in ``allowed``."""
    if origin is None:
        return True
    if origin in allowed:
        return True
    _scheme, sep, authority = origin.partition("://")
    return bool(sep) and host is not None and authority.lower() == host.lower()


@router.websocket("/ws")
async def live_bars(websocket: WebSocket) -> None:
    """Stream live bars of the subscribed symbols as ``{"type": "bar", "bar": {...}}``."""
    settings = websocket.app.state.settings
    if not origin_allowed(
        websocket.headers.get("origin"), websocket.headers.get("host"), settings.cors_origins
    ):
        WS_REJECTED.inc()
        await websocket.close(code=1008, reason="origin not allowed")  # before accept: 403
        return
    hub: LiveHub = hub_of(websocket.app.state)
    max_symbols: int = settings.ws_max_symbols
    await websocket.accept()
    try:
        principal = await _authenticate(websocket)
    except (ValueError, TokenRejected) as exc:
        WS_AUTH_REFUSED.inc()
        await websocket.close(code=1008, reason=str(exc)[:120])  # a close reason is <= 123 bytes
        return
    except (WebSocketDisconnect, TimeoutError):
        return
    await websocket.send_text(
        orjson.dumps(
            {"type": "auth", "username": principal.username, "role": principal.role.name}
        ).decode()
    )
    client = hub.connect(websocket, connection_of(websocket.scope))
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
            await client.close(1000, "", hub.close_grace_s)


async def _authenticate(websocket: WebSocket) -> Principal:
    """The principal of the connection's first message, ``{"auth": "<access token>"}``.

    Raises ValueError or TokenRejected saying what is wrong, TimeoutError after
    :data:`AUTH_TIMEOUT_S`."""
    try:
        received = await asyncio.wait_for(websocket.receive(), AUTH_TIMEOUT_S)
    except TimeoutError:
        WS_AUTH_REFUSED.inc()
        await websocket.close(code=1008, reason=f"no auth message within {AUTH_TIMEOUT_S:g} s")
        raise
    if received["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(received.get("code", 1000))
    text = received.get("text")
    try:
        message: Any = None if text is None else orjson.loads(text)
    except orjson.JSONDecodeError:
        message = None
    token = message.get("auth") if isinstance(message, dict) and len(message) == 1 else None
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
        raise ValueError('authenticate first: send {"auth": "<access token>"}')
    keys: KeyRing = websocket.app.state.auth.keys
    return keys.verify(token)


async def _read_commands(
    websocket: WebSocket, client: Client, hub: LiveHub, max_symbols: int
) -> None:
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            received = await websocket.receive()
            if received["type"] == "websocket.disconnect":
                return
            text = received.get("text")
            if text is None:
                _reply(client, {"type": "error", "detail": "send commands as text messages"})
                continue
            try:
                action, symbols = _parse_command(text, max_symbols)
            except ValueError as exc:
                _reply(client, {"type": "error", "detail": str(exc)})
                continue
            if action == "subscribe":
                if len(client.symbols | set(symbols)) > max_symbols:
                    detail = f"at most {max_symbols} symbols per connection"
                    _reply(client, {"type": "error", "detail": detail})
                    continue
                hub.subscribe(client, symbols)
            else:
                hub.unsubscribe(client, symbols)
            reply = {"type": "subscribed", "symbols": sorted(client.symbols)}
            _reply(client, reply)


def _reply(client: Client, payload: dict[str, Any]) -> None:
    """Answer a command on the client's own stream (in order with its live messages)."""
    client.offer(outgoing(orjson.dumps(payload).decode()))
