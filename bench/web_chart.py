"""Price-chart benchmark: time to first candle and pan/zoom frame times in headless Chromium.

Starts a broker, datasets, gateway and ingest (shipped history only) on free ports, then runs
tests/web/chart.bench.mjs: the real SPX history and synthetic 100k / 1M candle series (labelled
synthetic in the page). Prints the script's JSON.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sextant_common.broker_launcher import start_broker  # noqa: E402
from sextant_common.devstack import start_services, stop_services  # noqa: E402
from tests.support import Ports, service_env, spec, wait_for  # noqa: E402


def main() -> int:
    """Run the chart benchmark against a fresh stack; return node's exit status."""
    broker = start_broker()
    ports = Ports.allocate()
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            **service_env(
                broker.bootstrap,
                Path(tmp),
                ports,
                SEXTANT_INGEST_PROVIDERS='["shipped"]',
                SEXTANT_INGEST_LIVE="false",
            ),
        }
        services = start_services(
            [spec(name, getattr(ports, name)) for name in ("datasets", "gateway", "ingest")],
            env,
            sink=lambda _line: None,
        )
        try:
            url = f"http://127.0.0.1:{ports.gateway}"
            wait_for(
                lambda: (
                    httpx.get(f"{url}/api/v1/bars", params={"symbol": "SPX"}).status_code == 200
                ),
                60,
                "SPX history",
            )
            return subprocess.call(["node", str(ROOT / "tests/web/chart.bench.mjs"), url])
        finally:
            stop_services(services)
            broker.stop()


if __name__ == "__main__":
    raise SystemExit(main())
