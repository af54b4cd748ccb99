"""Loading the deployment files for tests/deploy: compose, the Kubernetes resources, the Kafka
broker's properties, and the deploy secrets a `config` run needs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any, NoReturn

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yml"
K8S_DIR = DEPLOY / "k8s"
KAFKA_DIR = DEPLOY / "kafka"

# The contract in the architecture notes: service -> HTTP port of /health, /ready and /metrics.
SERVICE_PORTS = {"ingest": 8003, "datasets": 8001, "quant": 8002, "gateway": 8000}
# Oldest Kubernetes the manifests must be valid for (autoscaling/v2 etc.).
K8S_VERSION = "1.30.0"
SUBPROCESS_TIMEOUT_S = 60


def tool_missing(package: str, detail: str) -> NoReturn:
    """Skip locally, fail under CI (CI=true): a check cannot quietly disappear."""
    message = f"{package} is not usable ({detail}); `pip install -r requirements-dev.txt`"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """``args`` from the repo root, output captured as text."""
    return subprocess.run(
        args, capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT_S, cwd=REPO, **kwargs
    )


def compose_config(
    binary: Path, compose_file: Path, secrets: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``config --quiet`` with the deploy secrets (passwords, tokens) set as deploy/.env would
    (default: a fresh :func:`deploy_secrets`): compose.yml requires each of them."""
    # COMPOSE_* / DOCKER_* in the caller's environment (COMPOSE_FILE, COMPOSE_PROFILES ...) would
    # change what gets validated; so would a deploy/.env on this machine (--env-file /dev/null).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    env |= deploy_secrets() if secrets is None else secrets
    args = [str(binary), "--env-file", os.devnull, "-f", str(compose_file), "config", "--quiet"]
    return run(args, env=env)


def k8s_validate(tool: list[str], files: list[Path]) -> tuple[bool, str]:
    """(ok, report). kubernetes-validate exits 0 after only *warning* that it has no schema for a
    kind/apiVersion (a typo'd apiVersion, a CRD): such a resource was not checked, so it fails."""
    result = run([*tool, "--strict", "--quiet", "-k", K8S_VERSION, *map(str, files)])
    report = (result.stdout + result.stderr).strip()
    problems = [line for line in report.splitlines() if line.startswith(("WARN", "ERROR", "FATAL"))]
    return result.returncode == 0 and not problems, report


def load_compose() -> dict[str, Any]:
    """deploy/compose.yml with the x-* anchors and << merges resolved (no interpolation)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


def load_k8s(files: list[Path]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every resource in ``files``, keyed by (kind, name); a key defined twice fails."""
    resources: dict[tuple[str, str], dict[str, Any]] = {}
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                key = (doc["kind"], doc["metadata"]["name"])
                assert key not in resources, f"{key} defined twice (again in {path.name})"
                resources[key] = doc
    return resources


def container(workload: dict[str, Any]) -> dict[str, Any]:
    """The one container of a Deployment's (or Job's) pod template."""
    containers = workload["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, f"{workload['metadata']['name']}: expected one container"
    return containers[0]


def env_list(item: dict[str, Any]) -> dict[str, str]:
    """A container's ``env`` as name -> literal value ("" for a valueFrom)."""
    return {entry["name"]: entry.get("value", "") for entry in item.get("env", [])}


def deploy_secrets() -> dict[str, str]:
    """A fresh deploy/.env as deploy/kafka/make-env.sh prints it (variable -> value)."""
    printed = subprocess.run(
        ["bash", str(KAFKA_DIR / "make-env.sh")], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in printed.splitlines())


def broker_properties() -> dict[str, str]:
    """The server.properties deploy/kafka/broker.sh writes (its first heredoc), shell variables
    left unexpanded."""
    script = (KAFKA_DIR / "broker.sh").read_text()
    found = re.search(r"<<PROPERTIES\n(.*?)\nPROPERTIES\n", script, re.S)
    assert found, "broker.sh: no server.properties heredoc"
    lines = [line for line in found[1].splitlines() if line and not line.startswith("#")]
    return dict(line.split("=", 1) for line in lines)
