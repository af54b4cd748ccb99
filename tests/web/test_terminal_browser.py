"""The web terminal in a real Chromium against the real stack (history + a live candle)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Stack
from tests.integration.test_stack import spx_2008
from tests.support import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_chart_draws_shipped_sp500_history_and_a_live_candle(
    full_stack: Stack, tmp_path: Path
) -> None:
    assert shutil.which("node"), "node is required for the browser test"
    wait_for(lambda: spx_2008(full_stack), 90, "SPX history stored")
    result = subprocess.run(
        ["node", str(ROOT / "tests/web/terminal.e2e.mjs"), full_stack.gateway_url, "BTC-USD"],
        env={**os.environ, "SEXTANT_SCREENSHOT": str(tmp_path / "terminal.png")},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["candles"] >= 5031
    assert report["liveUpdates"] >= 1
    assert "LIVE" not in report["unknownStatus"], report["unknownStatus"]
    assert "NO DATA" in report["unknownStatus"], report["unknownStatus"]
    assert (tmp_path / "terminal.png").stat().st_size > 10_000
