"""scripts/security_scan.sh decides right: a finding fails it, an advisory database out of reach
is a loud SKIPPED (a failure under SECURITY_SCAN_STRICT=1), never a quiet pass.

The scanners are stand-ins that print recorded answers (the real ones need minutes and, for the
audits, the internet); the script, its parsing and its verdicts are the real ones.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.manifests import REPO

SCRIPT = REPO / "scripts" / "security_scan.sh"

STUBS = {
    "bandit": 'cat "$FAKE/bandit.txt"; exit "$(cat "$FAKE/bandit.status")"',
    "detect-secrets": 'cat "$FAKE/secrets.json"',
    "pip": 'cat "$FAKE/freeze.txt"',
    "pip-audit": (
        'while (($#)); do [[ $1 == --output ]] && cp "$FAKE/audit.json" "$2"; shift; done\n'
        'exit "$(cat "$FAKE/audit.status")"'
    ),
    "npm": 'cat "$FAKE/npm.json"; exit 1',
}
UNREACHABLE_PYPI = {
    "dependencies": [
        {"name": "idna", "skip_reason": "Dependency not found on PyPI and could not be audited"},
        {"name": "httpx", "skip_reason": "Dependency not found on PyPI and could not be audited"},
    ],
    "fixes": [],
}
UNREACHABLE_NPM = {"message": "405 Method Not Allowed - POST .../security/advisories/bulk"}
NPM_CLEAN = {"metadata": {"vulnerabilities": {"high": 0, "critical": 0, "total": 0}}}
PYPI_CLEAN = {
    "dependencies": [
        {"name": "idna", "version": "3.10", "vulns": []},
        {"name": "httpx", "version": "0.28.1", "vulns": []},
    ],
    "fixes": [],
}


@pytest.fixture
def fake(tmp_path: Path) -> Path:
    """A bin directory of stand-in scanners, answering what the files next to them say (by
    default: nothing found, the lock current, both advisory databases unreachable)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in STUBS.items():
        stub = bin_dir / name
        stub.write_text(f'#!/usr/bin/env bash\nFAKE="{tmp_path}"\n{body}\n')
        stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    (bin_dir / "python").symlink_to(sys.executable)
    (tmp_path / "bandit.txt").write_text("")
    (tmp_path / "bandit.status").write_text("0")
    (tmp_path / "secrets.json").write_text(json.dumps({"results": {}}))
    (tmp_path / "freeze.txt").write_text((REPO / "requirements.lock").read_text())
    (tmp_path / "audit.json").write_text(json.dumps(UNREACHABLE_PYPI))
    (tmp_path / "audit.status").write_text("0")  # pip-audit's own verdict: "no known vulns"
    (tmp_path / "npm.json").write_text(json.dumps(UNREACHABLE_NPM))
    return tmp_path


def _scan(fake: Path, **env: str) -> tuple[int, str]:
    environ = {k: v for k, v in os.environ.items() if k != "SECURITY_SCAN_STRICT"}
    environ |= {"BIN": str(fake / "bin"), "PATH": f"{fake / 'bin'}:{os.environ['PATH']}", **env}
    done = subprocess.run(
        ["bash", str(SCRIPT)], env=environ, capture_output=True, text=True, timeout=60
    )
    return done.returncode, done.stdout + done.stderr


def test_unreachable_advisory_databases_are_a_loud_skip(fake: Path) -> None:
    status, output = _scan(fake)
    assert status == 0, output
    assert "SKIPPED: dependency audit could not reach the advisory database" in output
    assert "(0 of 2 packages looked up" in output
    assert "SKIPPED: npm audit could not reach the advisory database (405 Method" in output
    assert output.rstrip().splitlines()[-1].startswith("security scan: PASSED WITH 2 SKIPPED")
    status, output = _scan(fake, SECURITY_SCAN_STRICT="1")
    assert status == 1, output


def test_everything_reachable_and_clean_passes(fake: Path) -> None:
    (fake / "audit.json").write_text(json.dumps(PYPI_CLEAN))
    (fake / "npm.json").write_text(json.dumps(NPM_CLEAN))
    status, output = _scan(fake, SECURITY_SCAN_STRICT="1")
    assert status == 0, output
    assert "SKIPPED" not in output
    assert output.rstrip().splitlines()[-1] == "security scan: PASSED"


def test_a_known_vulnerability_fails(fake: Path) -> None:
    audit = json.loads(json.dumps(PYPI_CLEAN))
    audit["dependencies"][1]["vulns"] = [
        {"id": "GHSA-xxxx", "fix_versions": ["0.28.2"], "description": "..."}
    ]
    (fake / "audit.json").write_text(json.dumps(audit))
    (fake / "audit.status").write_text("1")
    status, output = _scan(fake)
    assert status == 1, output
    assert "httpx 0.28.1: GHSA-xxxx (fixed in 0.28.2)" in output
    assert "FAILED: pip-audit 1 of 2 audited package(s)" in output


def test_a_high_bandit_finding_fails_and_a_medium_one_is_listed(fake: Path) -> None:
    (fake / "bandit.txt").write_text(
        "libs/x.py:3: MEDIUM B608 Possible SQL injection\nlibs/y.py:9: HIGH B602 shell=True\n"
    )
    (fake / "bandit.status").write_text("1")
    status, output = _scan(fake)
    assert status == 1, output
    assert "libs/x.py:3: MEDIUM B608" in output
    assert "FAILED: bandit 1 high-severity finding(s)" in output
    (fake / "bandit.txt").write_text("libs/x.py:3: MEDIUM B608 Possible SQL injection\n")
    status, output = _scan(fake)
    assert status == 0, output
    assert "ok: no high-severity finding (1 medium listed)" in output


def test_a_secret_missing_from_the_baseline_fails(fake: Path) -> None:
    baseline = json.loads((REPO / ".secrets.baseline").read_text())["results"]
    known_file, known = next(iter(baseline.items()))
    found = {
        known_file: known,  # audited: not reported
        "services/x.py": [{"type": "AWS Access Key", "hashed_secret": "0" * 40, "line_number": 7}],
    }
    (fake / "secrets.json").write_text(json.dumps({"results": found}))
    status, output = _scan(fake)
    assert status == 1, output
    assert "services/x.py:7: AWS Access Key" in output
    assert known_file + ":" not in output
    assert "FAILED: detect-secrets 1 secret(s) not in .secrets.baseline" in output


def test_a_stale_lock_fails(fake: Path) -> None:
    freeze = (fake / "freeze.txt").read_text() + "brand-new-dependency==1.0\n"
    (fake / "freeze.txt").write_text(freeze)
    status, output = _scan(fake)
    assert status == 1, output
    assert "> brand-new-dependency==1.0" in output
    assert "FAILED: lock requirements.lock is stale" in output


def test_the_scan_excludes_what_the_baseline_excludes() -> None:
    """The fresh scan and the baseline must skip the same files, and the baseline itself (its
    hashed secrets would each be a new finding)."""
    baseline = json.loads((REPO / ".secrets.baseline").read_text())
    (pattern,) = next(
        f["pattern"] for f in baseline["filters_used"] if f["path"].endswith("should_exclude_file")
    )
    assert f"exclude='{pattern}'" in SCRIPT.read_text()
    for path in (".secrets.baseline", "web/package-lock.json", "requirements.lock"):
        assert re.search(pattern, path), path
    assert not re.search(pattern, "services/gateway/sextant_gateway/settings.py")
