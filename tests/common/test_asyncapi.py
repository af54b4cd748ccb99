"""The AsyncAPI document: current in the repo, valid for @asyncapi/parser, and complete."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from sextant_common.asyncapi import build_document, render
from sextant_common.channels import CHANNELS

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / "docs/asyncapi.json"
REGENERATE = ".venv/bin/python -m sextant_common.asyncapi > docs/asyncapi.json"
PARSER = ROOT / "web/node_modules/@asyncapi/parser"


def test_the_checked_in_document_is_current() -> None:
    assert CHECKED_IN.read_text() == render(build_document()), (
        f"{CHECKED_IN.relative_to(ROOT)} is not what the channel declarations generate: "
        f"run {REGENERATE}"
    )


def test_asyncapi_parser_finds_no_error_in_the_checked_in_document() -> None:
    assert shutil.which("node"), "node is required to run @asyncapi/parser"
    assert PARSER.is_dir(), f"{PARSER} is missing: run `cd web && npm ci` (make setup does)"
    result = subprocess.run(
        ["node", str(ROOT / "tests/common/validate_asyncapi.mjs"), str(CHECKED_IN)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    errors = [d for d in report["diagnostics"] if d["severity"] == 0]
    assert report["errors"] == 0, errors
    assert report["channels"] == [channel.topic for channel in CHANNELS]


def test_the_parser_check_can_fail(tmp_path: Path) -> None:
    broken = json.loads(CHECKED_IN.read_text())
    broken["components"]["schemas"]["Bar"]["properties"]["open"]["type"] = "float"
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    result = subprocess.run(
        ["node", str(ROOT / "tests/common/validate_asyncapi.mjs"), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1])["errors"] > 0


def test_every_channel_says_its_key_encoding_producers_and_consumers() -> None:
    document = build_document("broker:9092")
    assert document["asyncapi"] == "3.0.0"
    assert document["servers"]["kafka"]["variables"]["bootstrap"]["default"] == "broker:9092"
    operations = list(document["operations"].values())
    for channel in CHANNELS:
        (described,) = [c for c in document["channels"].values() if c["address"] == channel.topic]
        assert "UTF-8 JSON" in described["description"]
        assert channel.key in described["description"]
        message = document["components"]["messages"][channel.title]
        assert message["contentType"] == "application/json"
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        schema = document["components"]["schemas"][channel.title]
        assert set(schema["properties"]) == set(channel.model.model_fields)
        for action, services in (("send", channel.producers), ("receive", channel.consumers)):
            named = {
                op["tags"][0]["name"]
                for op in operations
                if op["action"] == action and op["title"].endswith(" " + channel.topic)
            }
            assert named == set(services), (channel.topic, action)
    assert "headers" in document["components"]["messages"]["DeadLetter"]
