"""The web terminal in a real Chromium against the real stack (history + a live candle), signed in
as a viewer through the sign-in form."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_chart_draws_shipped_sp500_history_and_a_live_candle(
    browser_script: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    shot = tmp_path / "terminal.png"
    report = browser_script(
        "terminal.e2e.mjs", "viewer", "BTC-USD", timeout=180, SEXTANT_SCREENSHOT=str(shot)
    )
    assert report["candles"] >= 5031
    assert report["liveUpdates"] >= 1
    assert "LIVE" not in report["unknownStatus"], report["unknownStatus"]
    assert "NO DATA" in report["unknownStatus"], report["unknownStatus"]
    assert shot.stat().st_size > 10_000
