"""Price-chart benchmark: time to first candle and pan/zoom frame times in headless Chromium.

Starts a broker, datasets, gateway and ingest (shipped history only) on free ports, then runs
tests/web/chart.bench.mjs as the stack's test viewer (it signs in through the page's form before
timing the SPX chart): the real SPX history and synthetic 100k / 1M candle series (labelled
synthetic in the page). Prints the script's JSON.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import running_stack  # noqa: E402
from tests.support import auth_for, wait_for_shipped_history  # noqa: E402


def main() -> int:
    """Run the chart benchmark against a fresh stack; return node's exit status."""
    with running_stack(
        ("datasets", "gateway", "ingest"),
        SEXTANT_INGEST_PROVIDERS='["shipped"]',
        SEXTANT_INGEST_LIVE="false",
    ) as ports:
        url = f"http://127.0.0.1:{ports.gateway}"
        wait_for_shipped_history(url)
        viewer = auth_for(url, "viewer")
        env = {
            **os.environ,
            "SEXTANT_TEST_USERNAME": viewer.username,
            "SEXTANT_TEST_PASSWORD": viewer.password,
        }
        return subprocess.call(["node", str(ROOT / "tests/web/chart.bench.mjs"), url], env=env)


if __name__ == "__main__":
    raise SystemExit(main())
