"""Runs the headless-Chromium scripts of tests/web against the full stack as a test user."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Stack
from tests.support import wait_for_shipped_history

HERE = Path(__file__).resolve().parent


@pytest.fixture
def browser_script(full_stack: Stack) -> Callable[..., dict[str, Any]]:
    """``run(script, role, *args, timeout=..., **env)``: run ``tests/web/<script>`` against the
    stack's gateway (``args`` after the URL, ``env`` added to the environment), signed in through
    the page's form as the test user with ``role`` (SEXTANT_TEST_USERNAME / _PASSWORD); assert it
    exited 0 and return its JSON report (the last stdout line)."""
    assert shutil.which("node"), "node is required for the browser tests"
    wait_for_shipped_history(full_stack.gateway_url)

    def run(script: str, role: str, *args: str, timeout: float, **env: str) -> dict[str, Any]:
        username, password = full_stack.credentials(role)
        result = subprocess.run(
            ["node", str(HERE / script), full_stack.gateway_url, *args],
            env={
                **os.environ,
                "SEXTANT_TEST_USERNAME": username,
                "SEXTANT_TEST_PASSWORD": password,
                **env,
            },
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        return report

    return run
