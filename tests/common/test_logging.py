"""With ``SEXTANT_LOG_JSON=true`` every line a service prints is one JSON object.

Before, uvicorn's records carried an ANSI ``color_message`` field, ``warnings.warn`` (FastAPI's
duplicate operation id UserWarning) printed raw text, and an exception at start was a
multi-line traceback.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from sextant_common.devstack import start_services
from sextant_common.logging_setup import configure_logging, log_uncaught
from tests.support import Ports, service_env, spec

ANSI = "\x1b["


@pytest.fixture
def json_logging() -> Iterator[None]:
    """configure_logging(json=True) for one test; the process's logging state restored after.

    The test calls it, so the handler writes to the stream ``capsys`` has in the call phase."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.excepthook, threading.excepthook)
    try:
        yield
    finally:
        logging.captureWarnings(False)
        root.handlers[:], level, sys.excepthook, threading.excepthook = saved
        root.setLevel(level)


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every non-empty line parsed as a JSON object (fails on the first that is not)."""
    parsed = []
    for line in text.splitlines():
        if line.strip():
            record = orjson.loads(line)
            assert isinstance(record, dict), line
            parsed.append(record)
    return parsed


def test_warnings_are_json_records(json_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("INFO", json=True)
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("Duplicate Operation ID get_bars", UserWarning, stacklevel=1)
    (record,) = json_lines(capsys.readouterr().err)
    assert record["logger"] == "py.warnings" and record["level"] == "warning"
    assert "Duplicate Operation ID" in record["msg"]


def test_uvicorns_color_message_is_dropped(
    json_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", json=True)
    logging.getLogger("uvicorn.error").info(
        "Started server process [%d]", 42, extra={"color_message": f"{ANSI}1m%d{ANSI}0m"}
    )
    (record,) = json_lines(capsys.readouterr().err)
    assert record["msg"] == "Started server process [42]" and "color_message" not in record


def test_an_uncaught_exception_is_one_json_line(
    json_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("INFO", json=True)
    try:
        raise RuntimeError("lake directory is not writable")
    except RuntimeError as exc:
        log_uncaught(RuntimeError, exc, exc.__traceback__)
    (record,) = json_lines(capsys.readouterr().err)
    assert record["level"] == "critical" and "lake directory" in record["msg"]
    assert "Traceback" in record["exc"]


@pytest.mark.integration
def test_every_line_of_a_running_service_is_json(kafka_bootstrap: str, tmp_path: Path) -> None:
    ports = Ports.allocate()
    env = {
        **os.environ,
        **service_env(kafka_bootstrap, tmp_path, ports, SEXTANT_LOG_JSON="true"),
    }
    lines: list[str] = []
    (service,) = start_services([spec("datasets", ports.datasets)], env, sink=lines.append)
    try:
        time.sleep(1.0)  # let the consumer join its group and log what it logs
    finally:
        service.stop()
    time.sleep(0.5)  # the relay thread drains the pipe
    prefix = "[datasets] "
    assert lines and all(line.startswith(prefix) for line in lines)
    records = json_lines("\n".join(line.removeprefix(prefix) for line in lines))
    assert any(r["logger"].startswith("uvicorn") for r in records), records
    for record in records:
        assert "color_message" not in record and ANSI not in record["msg"]


@pytest.mark.integration
def test_a_crash_at_start_is_one_json_line(kafka_bootstrap: str, tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("the lake cannot live under a file")
    ports = Ports.allocate()
    result = subprocess.run(
        [sys.executable, "-m", "sextant_datasets"],
        env={
            **os.environ,
            **service_env(kafka_bootstrap, not_a_directory, ports, SEXTANT_LOG_JSON="true"),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    records = json_lines(result.stdout + result.stderr)
    (crash,) = [r for r in records if r["level"] == "critical"]
    assert "uncaught exception" in crash["msg"] and "Traceback" in crash["exc"]


def test_a_bad_setting_at_start_is_one_json_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "sextant_datasets"],
        env={**os.environ, "SEXTANT_DATASETS_PORT": "not-a-port", "SEXTANT_LOG_JSON": "true"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    (crash,) = json_lines(result.stdout + result.stderr)
    assert crash["level"] == "critical" and "datasets_port" in crash["exc"]
