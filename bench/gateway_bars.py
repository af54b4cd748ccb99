"""Gateway benchmark: the cached 253-bar SPX 2008 series as JSON at a fixed request rate, with
JWT verification on.

Starts broker, datasets, gateway and ingest (shipped history only), then a second process sends
GET /api/v1/bars with a viewer's bearer token at a fixed rate over keep-alive connections and
measures latency from each request's scheduled send time (no coordinated omission). For
reference the same load is sent to the datasets service directly (one hop less, no auth). The
cost of auth itself is measured in process: the RS256 check of a new token, the check of a token
seen before, and the middleware's whole decision for one request. Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import running_stack  # noqa: E402
from sextant_gateway.auth.middleware import Authenticate  # noqa: E402
from sextant_gateway.auth.policy import Role  # noqa: E402
from sextant_gateway.auth.store import AuthStore, engine_for  # noqa: E402
from sextant_gateway.auth.tokens import KeyRing  # noqa: E402
from tests.support import auth_for, wait_for  # noqa: E402

QUERY = "symbol=SPX&start=2008-01-01&end=2008-12-31&interval=1d"


async def _load(
    port: int, path: str, rate: float, seconds: float, conns: int, token: str | None = None
) -> dict[str, float]:
    """Send ``rate`` requests/s for ``seconds`` over ``conns`` keep-alive connections."""
    auth = f"Authorization: Bearer {token}\r\n" if token else ""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()
    total = int(rate * seconds)
    start = time.perf_counter() + 0.2
    latencies: list[float] = []
    errors = 0

    async def worker(index: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for n in range(index, total, conns):
            scheduled = start + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            await reader.readexactly(length)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
            latencies.append(time.perf_counter() - scheduled)
        writer.close()

    await asyncio.gather(*(worker(i) for i in range(conns)))
    elapsed = time.perf_counter() - start
    latencies.sort()

    def pct(q: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000, 2)

    return {
        "target_rps": rate,
        "achieved_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "errors": errors,
    }


def _client(port: int, path: str, rate: float, token: str | None = None) -> dict[str, float]:
    """Run the load generator in its own process (so it does not share our CPU time slice)."""
    code = (
        f"import asyncio, json, sys; sys.path.insert(0, {str(ROOT)!r});"
        "from bench.gateway_bars import _load;"
        f"print(json.dumps(asyncio.run(_load({port}, {path!r}, {rate}, 5.0, 32, {token!r}))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def auth_cost_us(rounds: int = 2_000) -> dict[str, float]:
    """Microseconds per call, in process: verifying a new token (RS256), a token seen before,
    and the auth middleware's whole decision for one request (policy, header, cached token)."""
    with tempfile.TemporaryDirectory() as tmp:
        keys = KeyRing(
            AuthStore(engine_for(None, Path(tmp))), issuer="sextant", audience="api", ttl_s=900
        )
        tokens = [keys.issue(f"user{i}", Role.viewer)[0] for i in range(rounds)]
        started = time.perf_counter()
        for token in tokens:
            keys.verify(token)
        fresh = (time.perf_counter() - started) / rounds
        started = time.perf_counter()
        for token in tokens:
            keys.verify(token)
        cached = (time.perf_counter() - started) / rounds

        async def inner(scope: Any, receive: Any, send: Any) -> None:
            return None

        middleware = Authenticate(inner, keys, None)
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/api/v1/bars",
            "headers": [(b"authorization", f"Bearer {tokens[0]}".encode())],
        }

        async def decide() -> float:
            started = time.perf_counter()
            for _ in range(rounds):
                await middleware(dict(scope), None, None)  # type: ignore[arg-type]
            return (time.perf_counter() - started) / rounds

        whole = asyncio.run(decide())
    return {
        "verify_new_token_us": round(fresh * 1e6, 1),
        "verify_seen_token_us": round(cached * 1e6, 2),
        "middleware_per_request_us": round(whole * 1e6, 2),
    }


def main() -> None:
    """Start the stack, load it at 500 and 1,000 requests/s, print the latencies."""
    with running_stack(
        ("datasets", "quant", "gateway", "ingest"),
        SEXTANT_INGEST_PROVIDERS='["shipped"]',
        SEXTANT_INGEST_LIVE="false",
        SEXTANT_LOG_LEVEL="WARNING",
    ) as ports:
        url = f"http://127.0.0.1:{ports.gateway}/api/v1/bars?{QUERY}"
        viewer = auth_for(url, "viewer")
        wait_for(
            lambda: httpx.get(url, auth=viewer).json().get("count") == 253, 60, "SPX 2008 stored"
        )
        token = viewer.token()
        results = {
            "gateway_with_jwt": {
                str(rate): _client(ports.gateway, f"/api/v1/bars?{QUERY}", rate, token)
                for rate in (500, 1000)
            },
            "datasets_direct": {
                str(rate): _client(ports.datasets, f"/v1/bars?{QUERY}", rate)
                for rate in (500, 1000)
            },
            "auth_cost": auth_cost_us(),
            "target": "p95 < 5 ms at 1,000 rps through the gateway with JWT verification",
        }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
