"""WebSocket fan-out: 2,000 clients x 5 of 500 symbols ticking once a second, then 10% stall.

A broker and a real gateway process; 500 bars/s published to ``md.bars.v1`` (each symbol once a
second, ``ts_known`` = publish time); 2,000 lean raw-socket clients in ``PROCESSES`` processes
(frame parsing and pong replies only, so the load generator is not the bottleneck), each
subscribed to 5 random symbols: ~10,000 messages/s delivered. Each client authenticates first
(a viewer's access token, signed in once by the parent, is its first message; the answer is
awaited before the clock starts and is not timed). Reports the publish -> client p50
and p99 latency, then stops reading on 10% of the clients and reports how fast the gateway drops
them and the others' p99 meanwhile. The anchor is the target in shared/BENCHMARKS.md (p99
< 20 ms); the "steady" phase is the in-run reference for the "stalled" phase.
"""

from __future__ import annotations

import asyncio
import base64
import json
import multiprocessing as mp
import os
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

from aiokafka import AIOKafkaProducer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sextant_common import topics  # noqa: E402
from sextant_common.broker_launcher import start_broker  # noqa: E402
from sextant_common.bus import ensure_topics  # noqa: E402
from sextant_common.events import AssetClass, Bar, Interval  # noqa: E402
from sextant_common.settings import CommonSettings  # noqa: E402
from tests.support import auth_for, metric_value, running_services  # noqa: E402

CLIENTS = 2_000
SYMBOLS = 500
PER_CLIENT = 5
PROCESSES = 4
STALLED_SHARE = 0.10
WARMUP_S = 8.0
MEASURE_S = 10.0
TS_KNOWN = b'"ts_known":"'


def frame(opcode: int, payload: bytes) -> bytes:
    """One masked client frame (client frames must be masked); ``payload`` < 64 KiB (an access
    token is a few hundred bytes)."""
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    if len(payload) < 126:
        length = bytes([0x80 | len(payload)])
    elif len(payload) < 1 << 16:
        length = bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
    else:
        raise ValueError(f"frame payload of {len(payload)} bytes: at most 65,535 here")
    return bytes([0x80 | opcode]) + length + mask + masked


class LeanClient(asyncio.Protocol):
    """A WebSocket client that only parses frames, answers pings and times bar deliveries.

    Its first message is ``{"auth": token}``; ``authenticated`` resolves with the gateway's
    answer (``{"type": "auth", ...}``), which is not timed, or fails if anything else comes."""

    def __init__(
        self, symbols: list[str], token: str, sink: list[float], state: dict[str, bool]
    ) -> None:
        self.symbols = symbols
        self.token = token
        self.sink = sink
        self.state = state
        self.buffer = bytearray()
        self.upgraded = False
        self.closed = False
        self.transport: asyncio.Transport | None = None
        self.authenticated: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.authenticated.done():
            self.authenticated.set_exception(
                ConnectionError(f"closed before the auth answer ({exc or 'by the gateway'})")
            )

    def _send(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        self.transport.write(frame(opcode, payload))

    def _on_auth_answer(self, opcode: int, payload: bytes) -> None:
        """The first frame: the gateway's auth answer, else (a close with its reason) a failure."""
        if opcode == 0x1 and json.loads(payload).get("type") == "auth":
            self.authenticated.set_result(None)
        else:
            self.authenticated.set_exception(
                ConnectionError(f"auth refused: opcode {opcode:#x}, {payload[2:]!r}")
            )

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in bytes(buf[:end]):
                raise RuntimeError(f"handshake refused: {bytes(buf[:end])!r}")
            del buf[: end + 4]
            self.upgraded = True
            self._send(0x1, json.dumps({"auth": self.token}).encode())
            self._send(0x1, json.dumps({"subscribe": self.symbols}).encode())
        now = time.time()
        offset = 0
        while len(buf) - offset >= 2:
            opcode, length, head = buf[offset] & 0x0F, buf[offset + 1] & 0x7F, 2
            if length == 126:
                if len(buf) - offset < 4:
                    break
                length, head = int.from_bytes(buf[offset + 2 : offset + 4], "big"), 4
            elif length == 127:
                if len(buf) - offset < 10:
                    break
                length, head = int.from_bytes(buf[offset + 2 : offset + 10], "big"), 10
            if len(buf) - offset < head + length:
                break
            payload = bytes(buf[offset + head : offset + head + length])
            offset += head + length
            if not self.authenticated.done():
                self._on_auth_answer(opcode, payload)
            elif opcode == 0x1 and self.state["measure"]:
                at = payload.find(TS_KNOWN)
                if at >= 0:
                    start = at + len(TS_KNOWN)
                    known = datetime.fromisoformat(
                        payload[start : payload.index(b'"', start)].decode()
                    )
                    self.sink.append(now - known.timestamp())
            elif opcode == 0x9:
                self._send(0xA, payload)
        del buf[:offset]


def client_process(
    port: int, token: str, plans: list[list[str]], stall: list[bool], conn: Connection
) -> None:
    """Run ``len(plans)`` clients signed in with the access ``token``; once all are
    authenticated, obey "measure", "stall", "report" commands from ``conn``."""
    resource.setrlimit(resource.RLIMIT_NOFILE, (20_000, 20_000))

    async def main() -> None:
        loop = asyncio.get_running_loop()
        state = {"measure": False}
        sinks: list[list[float]] = [[] for _ in plans]
        clients: list[LeanClient] = []
        for i, symbols in enumerate(plans):
            _, client = await loop.create_connection(
                lambda s=symbols, k=sinks[i]: LeanClient(s, token, k, state), "127.0.0.1", port
            )
            clients.append(client)
            if i % 50 == 49:
                await asyncio.sleep(0.05)
        async with asyncio.timeout(60):
            await asyncio.gather(*(c.authenticated for c in clients))
        conn.send("connected")
        while True:
            command = await loop.run_in_executor(None, conn.recv)
            if command == "measure":
                for sink in sinks:
                    sink.clear()
                state["measure"] = True
            elif command == "stall":
                for client, stalled in zip(clients, stall, strict=True):
                    if stalled and client.transport is not None:
                        client.transport.pause_reading()
            elif command == "report":
                state["measure"] = False
                healthy = [x for s, k in zip(stall, sinks, strict=True) if not s for x in k]
                closed = sum(c.closed for c, s in zip(clients, stall, strict=True) if s)
                alive = sum(not c.closed for c, s in zip(clients, stall, strict=True) if not s)
                conn.send({"latencies": healthy, "stalled_closed": closed, "healthy_open": alive})
            elif command == "stop":
                return

    asyncio.run(main())


async def publish(bootstrap: str, seconds: float, stop: asyncio.Event) -> int:
    """Each of ``SYMBOLS`` symbols once a second, spread evenly, until ``stop`` or ``seconds``."""
    await ensure_topics(CommonSettings(kafka_bootstrap=bootstrap))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=1)
    await producer.start()
    sent, step = 0, 10  # bars per send slot: 50 slots a second
    started = time.monotonic()
    try:
        while not stop.is_set() and time.monotonic() - started < seconds:
            now = datetime.now(UTC)
            for j in range(step):
                symbol = f"W{(sent + j) % SYMBOLS:03d}"
                bar = Bar(
                    instrument_id=symbol,
                    asset_class=AssetClass.CRYPTO,
                    interval=Interval.S1,
                    ts_event=now.replace(microsecond=0) - timedelta(seconds=1),
                    open=100.0,
                    high=101.0,
                    low=99.0,
                    close=100.5,
                    volume=10.0,
                    source="simulated",
                    ts_known=now,
                )
                await producer.send(topics.MD_BARS, bar.to_bytes(), key=bar.key)
            sent += step
            target = started + sent / SYMBOLS
            await asyncio.sleep(max(0.0, target - time.monotonic()))
    finally:
        await producer.stop()
    return sent


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def dropped(gateway: str) -> float:
    """Clients the gateway has dropped so far."""
    return metric_value(gateway, "sextant_ws_clients_dropped_total")


def main() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (20_000, 20_000))
    rng = random.Random(7)
    plans = [[f"W{s:03d}" for s in rng.sample(range(SYMBOLS), PER_CLIENT)] for _ in range(CLIENTS)]
    stalled = [i % int(1 / STALLED_SHARE) == 0 for i in range(CLIENTS)]
    broker = start_broker()
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_services(broker.bootstrap, Path(tmp), ["gateway"]) as ports,
    ):
        gateway = f"http://127.0.0.1:{ports.gateway}"
        token = auth_for(gateway, "viewer").token()  # 15 minutes: the run takes about one
        pipes, procs = [], []
        share = CLIENTS // PROCESSES
        ctx = mp.get_context("spawn")
        for p in range(PROCESSES):
            ours, theirs = ctx.Pipe()
            part = slice(p * share, (p + 1) * share)
            proc = ctx.Process(
                target=client_process,
                args=(ports.gateway, token, plans[part], stalled[part], theirs),
            )
            proc.start()
            pipes.append(ours)
            procs.append(proc)
        for pipe in pipes:
            assert pipe.recv() == "connected"

        def phase(stall: bool) -> dict[str, float]:
            for pipe in pipes:
                pipe.send("measure")
            if stall:
                for pipe in pipes:
                    pipe.send("stall")
            stall_at = time.monotonic()
            dropped_at = None
            while time.monotonic() - stall_at < MEASURE_S:
                time.sleep(0.25)
                if stall and dropped_at is None and dropped(gateway) >= sum(stalled):
                    dropped_at = time.monotonic() - stall_at
            reports = []
            for pipe in pipes:
                pipe.send("report")
                reports.append(pipe.recv())
            latencies = [x for r in reports for x in r["latencies"]]
            result = {
                "messages": len(latencies),
                "p50_ms": round(percentile(latencies, 0.5) * 1e3, 2),
                "p99_ms": round(percentile(latencies, 0.99) * 1e3, 2),
                "healthy_open": sum(r["healthy_open"] for r in reports),
            }
            if stall:
                result["stalled"] = sum(stalled)
                result["stalled_closed"] = sum(r["stalled_closed"] for r in reports)
                result["dropped_total"] = dropped(gateway)
                result["all_dropped_after_s"] = (
                    round(dropped_at, 2) if dropped_at is not None else float("nan")
                )
            return result

        async def run() -> dict[str, object]:
            stop = asyncio.Event()
            publisher = asyncio.create_task(publish(broker.bootstrap, 3600, stop))
            await asyncio.sleep(WARMUP_S)
            steady = await asyncio.to_thread(phase, False)
            print("steady", steady, file=sys.stderr, flush=True)
            stalled_phase = await asyncio.to_thread(phase, True)
            print("stalled", stalled_phase, file=sys.stderr, flush=True)
            stop.set()
            await publisher
            return {"steady": steady, "with_10pct_stalled": stalled_phase}

        results = asyncio.run(run())
        for pipe in pipes:
            pipe.send("stop")
        for proc in procs:
            proc.join(10)
    broker.stop()
    steady, stalled_phase = results["steady"], results["with_10pct_stalled"]
    assert isinstance(steady, dict) and isinstance(stalled_phase, dict)
    results["target_p99_ms"] = 20
    results["ratio_p99_stalled_over_steady"] = round(stalled_phase["p99_ms"] / steady["p99_ms"], 2)
    results["clients"] = CLIENTS
    print(json.dumps(results))


if __name__ == "__main__":
    main()
