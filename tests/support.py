"""Helpers the tests share: bar factories, service launch specs, polling."""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
import websockets
from aiokafka import AIOKafkaProducer

from sextant_common import topics
from sextant_common.broker_launcher import free_port
from sextant_common.bus import ensure_topics
from sextant_common.devstack import ServiceSpec, start_services, stop_services
from sextant_common.events import AssetClass, Bar, Interval
from sextant_common.producer import EventProducer
from sextant_common.settings import CommonSettings
from sextant_gateway.auth.passwords import hash_password
from sextant_ingest.publisher import BarPublisher

T = TypeVar("T")

ROLES = ("viewer", "researcher", "admin")


def create_test_users(data_dir: Path) -> dict[str, tuple[str, str]]:
    """A user of each role (``test-viewer`` ...) with a random password in the auth database of
    the gateway whose ``SEXTANT_DATA_DIR`` is ``data_dir``; role -> (username, password)."""
    from sextant_gateway.auth.policy import Role
    from sextant_gateway.auth.service import Auth
    from sextant_gateway.settings import GatewaySettings

    auth = Auth(GatewaySettings(data_dir=data_dir, auth_database_url=None))
    users = {}
    try:
        for role in ROLES:
            username, password = f"test-{role}", secrets.token_urlsafe(18)
            try:
                auth.create_user(username, password, Role.parse(role))
            except ValueError:  # exists from an earlier start on this data dir
                auth.store.update_user(username, password_hash=hash_password(password))
            users[role] = (username, password)
    finally:
        auth.close()
    return users


class GatewayAuth(httpx.Auth):
    """Signs in at a gateway as one user and sends the access token on every request; signs in
    again when it is old or a request comes back 401."""

    def __init__(self, gateway_url: str, username: str, password: str) -> None:
        self.gateway_url = gateway_url
        self.username = username
        self.password = password
        self._token: str | None = None
        self._at = 0.0

    def token(self) -> str:
        """A valid access token (a fresh sign-in after 10 minutes; tokens live 15)."""
        if self._token is None or time.monotonic() - self._at > 600:
            response = httpx.post(
                f"{self.gateway_url}/api/v1/auth/token",
                data={
                    "grant_type": "password",
                    "username": self.username,
                    "password": self.password,
                },
                timeout=30,
            )
            response.raise_for_status()
            self._token, self._at = response.json()["access_token"], time.monotonic()
        return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        response = yield request
        if response.status_code == 401:
            self._token = None
            request.headers["Authorization"] = f"Bearer {self.token()}"
            yield request


_GATEWAYS: dict[str, dict[str, tuple[str, str]]] = {}


def register_gateway(gateway_url: str, users: dict[str, tuple[str, str]]) -> None:
    """Make :func:`auth_for` sign in at ``gateway_url`` as ``users`` (from
    :func:`create_test_users`)."""
    _GATEWAYS[gateway_url.rstrip("/")] = users


def auth_for(url: str, role: str = "researcher") -> GatewayAuth:
    """Credentials of ``role`` for the registered gateway ``url`` starts with (any URL under it,
    ``ws://`` included)."""
    http_url = url.replace("ws://", "http://", 1)
    for base, users in _GATEWAYS.items():
        if http_url == base or http_url.startswith(base + "/"):
            key = (base, role)
            if key not in _SESSIONS:
                _SESSIONS[key] = GatewayAuth(base, *users[role])
            return _SESSIONS[key]
    raise LookupError(f"no test users registered for a gateway at {url}")


_SESSIONS: dict[tuple[str, str], GatewayAuth] = {}


def in_process_gateway(data_dir: Path, role: str | None = "researcher", **settings: Any) -> Any:
    """A ``TestClient`` of a gateway app built in this process (no lifespan: no broker or
    service is called unless a test puts clients in ``app.state.services``), its auth database
    under ``data_dir``, sending an access token of ``role`` (None: no token)."""
    from fastapi.testclient import TestClient

    from sextant_gateway.app import build_app
    from sextant_gateway.auth.policy import Role
    from sextant_gateway.settings import GatewaySettings

    app = build_app(GatewaySettings(kafka_bootstrap="127.0.0.1:1", data_dir=data_dir, **settings))
    client = TestClient(app)
    if role is not None:
        token, _ = app.state.auth.keys.issue(f"test-{role}", Role.parse(role))
        client.headers["Authorization"] = f"Bearer {token}"
    return client


async def ws_authenticate(ws: Any, url: str, role: str = "researcher") -> None:
    """Send a gateway WebSocket ``ws`` (opened on ``url``) its first message, the access token,
    and read the answer."""
    await ws.send(orjson.dumps({"auth": auth_for(url, role).token()}).decode())
    answer = orjson.loads(await ws.recv())
    assert answer.get("type") == "auth", answer


def make_bar(
    symbol: str = "TEST",
    ts_event: datetime | None = None,
    *,
    close: float = 100.0,
    interval: Interval = Interval.D1,
    source: str = "test",
    revision: int = 0,
    ts_known: datetime | None = None,
) -> Bar:
    """A valid bar with sensible defaults."""
    start = ts_event or datetime(2020, 1, 1, tzinfo=UTC)
    return Bar(
        instrument_id=symbol,
        asset_class=AssetClass.EQUITY,
        interval=interval,
        ts_event=start,
        open=close * 0.99,
        high=close * 1.01,
        low=close * 0.98,
        close=close,
        volume=1000.0,
        source=source,
        ts_known=ts_known or start + interval.duration,
        revision=revision,
    )


def bar_series(symbols: int, per_symbol: int, *, source: str = "test") -> list[Bar]:
    """``symbols`` x ``per_symbol`` daily bars with distinct natural keys."""
    base = datetime(2015, 1, 1, tzinfo=UTC)
    return [
        make_bar(f"S{s:03d}", base + timedelta(days=d), close=100 + d % 7, source=source)
        for s in range(symbols)
        for d in range(per_symbol)
    ]


async def publish_bars(bootstrap: str, bars: Iterable[Bar]) -> int:
    """Publish ``bars`` through the ingest service's own publisher; return how many."""
    settings = CommonSettings(kafka_bootstrap=bootstrap)
    await ensure_topics(settings)

    async def stream() -> AsyncIterator[Bar]:
        for bar in bars:
            yield bar

    async with EventProducer(bootstrap) as producer:
        return await BarPublisher(producer).publish_stream(stream())


def wait_for(check: Callable[[], T | None], timeout_s: float, what: str, every: float = 0.2) -> T:
    """Poll ``check`` until it returns a truthy value; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what} (last: {last!r})")


@dataclass(frozen=True)
class Ports:
    """Free ports for one stack under test, so tests never collide with `make run`."""

    datasets: int
    gateway: int
    ingest: int
    quant: int

    @classmethod
    def allocate(cls) -> Ports:
        """Currently free ports, one per service."""
        return cls(free_port(), free_port(), free_port(), free_port())


def service_env(bootstrap: str, data_dir: Path, ports: Ports, **extra: str) -> dict[str, str]:
    """Environment for services under test: their broker, data dir, ports, plain-text logs."""
    return {
        "SEXTANT_KAFKA_BOOTSTRAP": bootstrap,
        "SEXTANT_DATA_DIR": str(data_dir),
        "SEXTANT_DATASETS_PORT": str(ports.datasets),
        "SEXTANT_GATEWAY_PORT": str(ports.gateway),
        "SEXTANT_INGEST_PORT": str(ports.ingest),
        "SEXTANT_QUANT_PORT": str(ports.quant),
        "SEXTANT_DATASETS_URL": f"http://127.0.0.1:{ports.datasets}",
        "SEXTANT_QUANT_URL": f"http://127.0.0.1:{ports.quant}",
        "SEXTANT_INGEST_URL": f"http://127.0.0.1:{ports.ingest}",
        "SEXTANT_LOG_JSON": "false",
        # the sources test fixtures publish under: make_bar's and the fake fetcher provider's
        "SEXTANT_EXTRA_SOURCES": '["test", "acme", "bench"]',
        **extra,
    }


def spec(name: str, port: int, env: dict[str, str] | None = None) -> ServiceSpec:
    """Launch spec of service ``name`` (datasets, quant, gateway or ingest) on ``port``."""
    return ServiceSpec(
        name,
        [sys.executable, "-m", f"sextant_{name}"],
        f"http://127.0.0.1:{port}/health",
        env or {},
    )


def ws_handshake(
    port: int, *, origin: str | None = None, rcvbuf: int | None = None
) -> socket.socket:
    """A raw WebSocket connection to the gateway's ``/ws`` (``rcvbuf``: a small receive buffer
    makes a client that never reads stall quickly); raises if the upgrade is refused."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    extra = f"Origin: {origin}\r\n" if origin else ""
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            f"Sec-WebSocket-Version: 13\r\n{extra}\r\n"
        ).encode()
    )
    status = sock.recv(1024).split(b"\r\n", 1)[0]
    if b" 101 " not in status + b" ":
        sock.close()
        raise ConnectionRefusedError(status.decode(errors="replace"))
    return sock


def ws_send_text(sock: socket.socket, text: str) -> None:
    """Send one masked text frame (client frames must be masked), payload < 64 KiB."""
    payload = text.encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    length = (
        bytes([0x80 | len(payload)])
        if len(payload) < 126
        else bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
    )
    sock.sendall(bytes([0x81]) + length + mask + masked)


def stalled_ws_client(port: int, channel: str) -> socket.socket:
    """A WebSocket client that authenticates, subscribes to ``channel`` and then never reads
    (4 KB buffer)."""
    sock = ws_handshake(port, rcvbuf=4096)
    token = auth_for(f"http://127.0.0.1:{port}", "viewer").token()
    ws_send_text(sock, orjson.dumps({"auth": token}).decode())
    ws_send_text(sock, orjson.dumps({"subscribe": [channel]}).decode())
    return sock


def metric_value(base_url: str, name: str, labels: str = "") -> float:
    """A counter/gauge from a service's ``/metrics`` (``labels`` as in the exposition,
    e.g. ``'cause="lagging"'``); 0 when absent."""
    series = f"{name}{{{labels}}}" if labels else name
    try:
        auth: httpx.Auth | None = auth_for(base_url, "admin")  # a gateway's /metrics
    except LookupError:
        auth = None
    for line in httpx.get(f"{base_url}/metrics", timeout=5, auth=auth).text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[1])
    return 0.0


@contextmanager
def running_services(
    bootstrap: str, data_dir: Path, names: Iterable[str], **extra_env: str
) -> Iterator[Ports]:
    """Start the ``names`` services on free ports (settings in ``extra_env``); yield the ports."""
    names = list(names)
    ports = Ports.allocate()
    env = {**os.environ, **service_env(bootstrap, data_dir, ports, **extra_env)}
    if "gateway" in names:
        register_gateway(f"http://127.0.0.1:{ports.gateway}", create_test_users(data_dir))
    services = start_services(
        [spec(name, getattr(ports, name)) for name in names], env, sink=lambda _line: None
    )
    try:
        yield ports
    finally:
        stop_services(services)


async def publish_live_bars(bootstrap: str, symbol: str, count: int, per_second: float) -> None:
    """Publish ``count`` one-second bars of ``symbol`` known now, at ``per_second`` bars/s,
    straight to ``md.bars.v1`` (as a live feed would)."""
    await ensure_topics(CommonSettings(kafka_bootstrap=bootstrap))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await producer.start()
    chunk = max(1, int(per_second // 50))  # ~50 sends a second at most, evenly spaced
    try:
        base = datetime(2026, 1, 1, tzinfo=UTC)
        for i in range(count):
            bar = make_bar(
                symbol,
                base + timedelta(seconds=i),
                interval=Interval.S1,
                close=100 + i % 10,
                ts_known=datetime.now(UTC),
            )
            await producer.send(topics.MD_BARS, bar.to_bytes(), key=bar.key)
            if i % chunk == chunk - 1:
                await asyncio.sleep(chunk / per_second)
        await producer.flush()
    finally:
        await producer.stop()


@contextmanager
def private_quant(bootstrap: str, datasets_url: str, data_dir: Path, **extra: str) -> Iterator[str]:
    """A quant service of its own (own broker ``bootstrap``, own data dir, ``SEXTANT_*`` overrides
    in ``extra``) reading market data from ``datasets_url``; yields its base URL. Its job
    consumer group never shares requests with the full stack's quant."""
    from sextant_common.devstack import start_services, stop_services

    port = free_port()
    env = {
        **os.environ,
        "SEXTANT_KAFKA_BOOTSTRAP": bootstrap,
        "SEXTANT_DATA_DIR": str(data_dir),
        "SEXTANT_QUANT_PORT": str(port),
        "SEXTANT_DATASETS_URL": datasets_url,
        "SEXTANT_LOG_JSON": "false",
        **extra,
    }
    services = start_services([spec("quant", port)], env, sink=lambda line: None)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_services(services)


async def ws_bar_latencies(port: int, symbol: str, expected: int) -> list[float]:
    """Subscribe to ``symbol`` on the gateway's ``/ws``; the delivery latency (s, now minus the
    bar's ``ts_known``) of each of the next ``expected`` live bars."""
    latencies: list[float] = []
    url = f"ws://127.0.0.1:{port}/ws"
    async with websockets.connect(url, compression=None) as ws:
        await ws_authenticate(ws, url, "viewer")
        await ws.send(orjson.dumps({"subscribe": [symbol]}).decode())
        assert orjson.loads(await ws.recv()) == {"type": "subscribed", "symbols": [symbol]}
        async with asyncio.timeout(60):
            while len(latencies) < expected:
                message = orjson.loads(await ws.recv())
                known = datetime.fromisoformat(message["bar"]["ts_known"])
                latencies.append((datetime.now(UTC) - known).total_seconds())
    return latencies


def daily_frame(base_url: str, symbol: str, **params: str) -> pd.DataFrame:
    """``symbol``'s daily bars through the gateway's ``/api/v1/bars`` as a frame of floats
    (open, high, low, close, volume) indexed by naive UTC date, oldest first."""
    response = httpx.get(
        f"{base_url}/api/v1/bars",
        params={"symbol": symbol, **params},
        timeout=60,
        auth=auth_for(base_url),
    )
    response.raise_for_status()
    bars = response.json()["bars"]
    index = pd.DatetimeIndex([b["ts_event"] for b in bars], name="date").tz_localize(None)
    fields = ("open", "high", "low", "close", "volume")
    return pd.DataFrame({f: [b[f] for b in bars] for f in fields}, index=index, dtype=float)


def wait_for_shipped_history(gateway_url: str, timeout_s: float = 90) -> str:
    """Wait until the shipped S&P 500 (253 bars in 2008) and NASDAQ composite are queryable
    through the gateway at ``gateway_url``; return the URL."""

    def stored(symbol: str, **params: str) -> int:
        response = httpx.get(
            f"{gateway_url}/api/v1/bars",
            params={"symbol": symbol, **params},
            auth=auth_for(gateway_url),
        )
        return int(response.json()["count"]) if response.status_code == 200 else 0

    wait_for(lambda: stored("SPX", start="2008-01-01", end="2008-12-31") == 253, timeout_s, "SPX")
    wait_for(lambda: stored("COMP") > 0, timeout_s, "COMP history stored")
    return gateway_url


def screener_reference(frame: pd.DataFrame, bench: pd.Series | None) -> dict[str, float]:
    """The screener's metrics (``GET /v1/screener``) of one instrument, the pandas way, from
    its daily bars up to as_of (``close``, ``volume``) and a benchmark's closes."""
    close, volume = frame["close"], frame["volume"]
    returns = close.pct_change()

    def back(n: int) -> float:
        return float(close.iloc[-1 - n]) if len(close) > n else np.nan

    def vol(n: int) -> float:
        return float(returns.iloc[-n:].std() * np.sqrt(252)) if len(close) > n else np.nan

    beta = np.nan
    if bench is not None:
        both = pd.concat([close, bench], axis=1, join="inner").pct_change().dropna().iloc[-252:]
        if len(both) == 252:
            beta = float(both.iloc[:, 0].cov(both.iloc[:, 1]) / both.iloc[:, 1].var())
    year = close.iloc[-252:]
    return {
        "obs": len(close),
        "price": back(0),
        "ret_1m": back(0) / back(21) - 1,
        "ret_3m": back(0) / back(63) - 1,
        "ret_6m": back(0) / back(126) - 1,
        "ret_12m": back(0) / back(252) - 1,
        "mom_12_1": back(21) / back(252) - 1,
        "vol_20d": vol(20),
        "vol_60d": vol(60),
        "vol_1y": vol(252),
        "beta_1y": beta,
        "max_dd_1y": float((year / year.cummax() - 1).min()) if len(close) >= 252 else np.nan,
        "adv_20d": float(volume.iloc[-20:].mean()) if len(close) >= 20 else np.nan,
        "adv_60d": float(volume.iloc[-60:].mean()) if len(close) >= 60 else np.nan,
        "addv_20d": float((close * volume).iloc[-20:].mean()) if len(close) >= 20 else np.nan,
        "addv_60d": float((close * volume).iloc[-60:].mean()) if len(close) >= 60 else np.nan,
    }


def assert_screener_row(row: dict[str, Any], expected: dict[str, float]) -> None:
    """``row``'s metrics equal ``expected`` within 1e-10 (relative); NaN must be null."""
    for name, value in expected.items():
        if np.isnan(value):
            assert row[name] is None, (row["symbol"], name, row[name])
        else:
            assert row[name] == pytest.approx(value, rel=1e-10, abs=1e-12), (row["symbol"], name)
