"""The command bar in a real Chromium against the real stack, signed in as a researcher: a backtest
job with live WebSocket progress and its result panel, a 422 shown inline, factor exposures and
regimes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_command_bar_backtest_error_and_factors(
    browser_script: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    shot = tmp_path / "backtest.png"
    report = browser_script(
        "command_bar.e2e.mjs", "researcher", timeout=240, SEXTANT_SCREENSHOT=str(shot)
    )
    backtest = report["backtest"]
    assert backtest["status"] == "succeeded"
    assert backtest["trades"] > 0
    assert backtest["progressEvents"] >= 1
    assert "SMMA" in report["error"]
    assert 0 <= float(report["factors"]["r2"]) <= 1
    assert report["chartSymbol"] == "BTC-USD"
    assert shot.stat().st_size > 10_000
