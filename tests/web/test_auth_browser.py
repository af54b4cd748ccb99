"""Signing in to the web terminal in a real Chromium against the real stack, as a viewer: a wrong
password shows the error and loads nothing; after sign-in the chart loads with the token on every
call and as the first WebSocket message; a viewer's BACKTEST shows the 403 detail; a reload
resumes the session and sign-out ends it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_sign_in_wrong_password_viewer_backtest_and_sign_out(
    browser_script: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    shot = tmp_path / "signin.png"
    report = browser_script("auth.e2e.mjs", "viewer", timeout=180, SEXTANT_SCREENSHOT=str(shot))
    assert "incorrect username or password" in report["wrongPasswordError"]
    assert report["role"] == "viewer"
    assert report["candles"] >= 5031
    assert report["wsFirstMessage"] == ["auth"]
    assert "403" in report["forbidden"]
    assert "requires role researcher" in report["forbidden"], report["forbidden"]
    assert shot.stat().st_size > 5_000
