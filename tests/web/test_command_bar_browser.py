"""The command bar in a real Chromium against the real stack: a backtest job with live WebSocket
progress and its result panel, a 422 shown inline, factor exposures and regimes."""

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


def test_command_bar_backtest_error_and_factors(full_stack: Stack, tmp_path: Path) -> None:
    assert shutil.which("node"), "node is required for the browser test"
    wait_for(lambda: spx_2008(full_stack), 90, "SPX history stored")
    shot = tmp_path / "backtest.png"
    result = subprocess.run(
        ["node", str(ROOT / "tests/web/command_bar.e2e.mjs"), full_stack.gateway_url],
        env={**os.environ, "SEXTANT_SCREENSHOT": str(shot)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    backtest = report["backtest"]
    assert backtest["status"] == "succeeded"
    assert backtest["trades"] > 0
    assert backtest["progressEvents"] >= 1
    assert "SMMA" in report["error"]
    assert 0 <= float(report["factors"]["r2"]) <= 1
    assert report["chartSymbol"] == "BTC-USD"
    assert shot.stat().st_size > 10_000
