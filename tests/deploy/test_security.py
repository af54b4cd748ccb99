"""The deployments locked down (issue 13): only the gateway reachable from outside, Kafka with
SASL/SCRAM and deny-by-default ACLs derived from sextant_common.channels, no secret in the files.

Checked on the files (compose, k8s, deploy/kafka); deploy/kafka/init.sh also runs for real with
stand-ins for the Kafka CLI tools (the only part faked: there is no broker here).
"""

from __future__ import annotations

import importlib.util
import os
import re
import stat
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sextant_common.channels import CHANNELS, TOPICS
from sextant_datasets.settings import DatasetsSettings
from sextant_quant.settings import QuantSettings
from tests.deploy.manifests import (
    COMPOSE_FILE,
    K8S_DIR,
    KAFKA_DIR,
    REPO,
    SERVICE_PORTS,
    broker_properties,
    compose_config,
    container,
    deploy_secrets,
    env_list,
    k8s_validate,
    load_k8s,
)

# Services reachable from the host, and the only ones on a network with a route out.
PUBLISHED = {"gateway", "grafana"}
EGRESS = {"ingest"}  # calls the providers' HTTP APIs
SECRET_NAME = re.compile(r"(PASSWORD|TOKEN|SECRET|DATABASE_URL|STORE_URI|API_KEY)$")
REQUIRED_VARIABLE = re.compile(r"\$\{(?P<name>[A-Z0-9_]+):\?[^}]*\}")


def _kafka_acls() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kafka_acls", REPO / "scripts/kafka_acls.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["kafka_acls"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


kafka_acls = _kafka_acls()


# --- network: only the gateway is public ---------------------------------------------------------


def test_compose_keeps_everything_but_the_gateway_on_internal_networks(
    compose: dict[str, Any],
) -> None:
    networks = compose["networks"]
    internal = {name for name, spec in networks.items() if (spec or {}).get("internal")}
    assert "backend" in internal
    for name, service in compose["services"].items():
        # Without `networks:` a service joins "default", which has a route out.
        joined = set(service.get("networks") or ())
        assert joined, f"{name}: no networks: it would join the default network"
        assert joined <= set(networks), f"{name}: undeclared network {joined - set(networks)}"
        if service.get("ports"):
            assert name in PUBLISHED, f"{name} publishes a host port"
        outside = joined - internal
        if name in PUBLISHED | EGRESS:
            assert outside, f"{name}: a published port needs a network with a route out"
        else:
            assert not outside, f"{name} is on {outside}: only internal networks for it"
    # The gateway shares its outside network with nothing internal; ingest's egress is its own.
    members = defaultdict(set)
    for name, service in compose["services"].items():
        for network in service["networks"]:
            members[network].add(name)
    for network in set(networks) - internal:
        assert members[network] <= PUBLISHED | EGRESS, f"{network}: {members[network]}"
    assert {n for n in members if "ingest" in members[n]} - internal == {"egress"}
    assert members["egress"] == EGRESS
    grafana = set(compose["services"]["grafana"]["networks"]) & internal
    assert "backend" not in grafana, "Grafana reads Prometheus only"


def test_compose_publishes_grafana_on_loopback_only(compose: dict[str, Any]) -> None:
    (entry,) = compose["services"]["grafana"]["ports"]
    assert str(entry).startswith("127.0.0.1:"), entry


def _policies(k8s: dict[tuple[str, str], dict[str, Any]]) -> list[dict[str, Any]]:
    return [doc for (kind, _), doc in k8s.items() if kind == "NetworkPolicy"]


def _selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
    selector = policy["spec"]["podSelector"]
    assert set(selector) <= {"matchLabels"}, "only matchLabels selectors are checked here"
    return selector.get("matchLabels", {}).items() <= labels.items()


def _pod_labels(k8s: dict[tuple[str, str], dict[str, Any]], service: str) -> dict[str, str]:
    return k8s[("Deployment", service)]["spec"]["template"]["metadata"]["labels"]


def test_k8s_denies_ingress_by_default(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    deny = [
        p
        for p in _policies(k8s)
        if p["spec"]["podSelector"] == {}
        and p["spec"].get("policyTypes") == ["Ingress"]
        and not p["spec"].get("ingress")
    ]
    assert len(deny) == 1, "one policy selecting every pod with no ingress rule"


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_k8s_network_policy_of_each_service(
    k8s: dict[tuple[str, str], dict[str, Any]], service: str
) -> None:
    """The gateway accepts anyone on its port; an internal service accepts its port only from
    the gateway, Prometheus and (datasets) quant."""
    port = SERVICE_PORTS[service]
    labels = _pod_labels(k8s, service)
    rules = [
        rule
        for policy in _policies(k8s)
        if policy["spec"]["podSelector"] and _selects(policy, labels)
        for rule in policy["spec"].get("ingress", [])
    ]
    assert rules, f"{service}: no policy lets anything in"
    for rule in rules:
        assert [p["port"] for p in rule["ports"]] == [port], f"{service}: {rule['ports']}"
    if service == "gateway":
        assert any("from" not in rule for rule in rules), "the gateway is the public entry"
        return
    allowed_peers = {"gateway"} | ({"quant"} if service == "datasets" else set())
    peers = set()
    for rule in rules:
        assert rule.get("from"), f"{service}: a rule without `from` admits every pod"
        for peer in rule["from"]:
            name = peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
            if "namespaceSelector" in peer:
                assert name == "prometheus", f"{service}: {peer}"
            else:
                assert set(peer) == {"podSelector"}, f"{service}: {peer}"
                peers.add(name)
    assert peers == allowed_peers, f"{service} accepts {peers}"


# --- Kafka: SASL/SCRAM, deny by default ----------------------------------------------------------


def test_compose_broker_requires_scram_and_denies_by_default(compose: dict[str, Any]) -> None:
    kafka = compose["services"]["kafka"]
    assert "ports" not in kafka
    assert "broker.sh" in " ".join(kafka["command"])
    props = broker_properties()
    listeners = dict(item.split("://") for item in props["listeners"].split(","))
    protocols = dict(item.split(":") for item in props["listener.security.protocol.map"].split(","))
    # Clients: SCRAM only. The controller's plaintext listener is bound to the container's
    # loopback, since its principal (ANONYMOUS) must be a super user.
    assert listeners == {"SASL_PLAINTEXT": ":9092", "CONTROLLER": "127.0.0.1:9093"}
    assert protocols["SASL_PLAINTEXT"] == "SASL_PLAINTEXT"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert props["inter.broker.listener.name"] == "SASL_PLAINTEXT"
    assert props["authorizer.class.name"].endswith(".StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert set(props["super.users"].split(";")) == {"User:admin", "User:ANONYMOUS"}
    script = (KAFKA_DIR / "broker.sh").read_text()
    assert "--add-scram" in script and "/run/secrets/kafka_admin_password" in script


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_compose_service_logs_in_to_kafka_as_itself(compose: dict[str, Any], service: str) -> None:
    env = compose["services"][service]["environment"]
    assert env["SEXTANT_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    assert env["SEXTANT_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
    assert env["SEXTANT_KAFKA_SASL_USERNAME"] == service
    password = REQUIRED_VARIABLE.fullmatch(env["SEXTANT_KAFKA_SASL_PASSWORD"])
    assert password and password["name"] == f"KAFKA_{service.upper()}_PASSWORD"
    depends = compose["services"][service]["depends_on"]
    assert depends["kafka-init"]["condition"] == "service_completed_successfully"


def test_compose_kafka_init_has_every_password_and_topic_init_is_admin(
    compose: dict[str, Any],
) -> None:
    users = [kafka_acls.ADMIN, *kafka_acls.SERVICES]
    init = compose["services"]["kafka-init"]
    assert set(init["secrets"]) == {f"kafka_{user}_password" for user in users}
    for user in users:
        source = compose["secrets"][f"kafka_{user}_password"]
        assert source == {"environment": f"KAFKA_{user.upper()}_PASSWORD"}
    assert set(kafka_acls.SERVICES) == set(SERVICE_PORTS)
    topic_init = compose["services"]["topic-init"]["environment"]
    assert topic_init["SEXTANT_KAFKA_SASL_USERNAME"] == kafka_acls.ADMIN


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_k8s_service_logs_in_to_kafka_as_itself(
    k8s: dict[tuple[str, str], dict[str, Any]], service: str
) -> None:
    shared = k8s[("ConfigMap", "sextant-config")]["data"]
    assert shared["SEXTANT_KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
    env = {e["name"]: e for e in container(k8s[("Deployment", service)])["env"]}
    assert env["SEXTANT_KAFKA_SASL_USERNAME"]["value"] == service
    ref = env["SEXTANT_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert ref == {"name": "sextant-secrets", "key": f"KAFKA_{service.upper()}_PASSWORD"}


def test_k8s_kafka_init_job_runs_the_same_scripts(
    k8s: dict[tuple[str, str], dict[str, Any]],
) -> None:
    job = k8s[("Job", "kafka-init")]
    pod = job["spec"]["template"]["spec"]
    (users,) = pod["initContainers"]
    assert users["command"] == ["bash", "/opt/sextant/kafka/init.sh"]
    scripts = next(v for v in pod["volumes"] if v["name"] == "scripts")["configMap"]["name"]
    config = k8s[("ConfigMap", scripts)]["data"]
    assert config["init.sh"] == (KAFKA_DIR / "init.sh").read_text()
    assert config["acls.sh"] == (KAFKA_DIR / "acls.sh").read_text()
    passwords = next(v for v in pod["volumes"] if v["name"] == "passwords")["secret"]
    users_ = [kafka_acls.ADMIN, *kafka_acls.SERVICES]
    assert {(i["key"], i["path"]) for i in passwords["items"]} == {
        (f"KAFKA_{u.upper()}_PASSWORD", f"kafka_{u}_password") for u in users_
    }
    topics = container(job)
    assert "ensure_topics" in topics["args"][-1]
    assert env_list(topics)["SEXTANT_KAFKA_SASL_USERNAME"] == kafka_acls.ADMIN


# --- ACLs: exactly what channels.py declares -----------------------------------------------------


def test_generated_acl_files_are_current() -> None:
    assert kafka_acls.main(["--check"]) == 0, "run python scripts/kafka_acls.py --write"


def _parse_acls(text: str) -> dict[tuple[str, str, str, str], set[str]]:
    """(user, resource, name, pattern) -> operations, from ``add_acl`` lines."""
    rules: dict[tuple[str, str, str, str], set[str]] = defaultdict(set)
    for line in text.splitlines():
        if line.startswith("add_acl "):
            _, user, resource, name, pattern, *operations = line.split()
            rules[(user, resource, name, pattern)] |= set(operations)
    return rules


@pytest.mark.parametrize("where", ["compose", "k8s"])
def test_acls_grant_what_channels_declare(where: str) -> None:
    if where == "compose":
        text = (KAFKA_DIR / "acls.sh").read_text()
    else:
        config = load_k8s([K8S_DIR / "kafka-init-config.yaml"])[("ConfigMap", "kafka-init")]
        text = config["data"]["acls.sh"]
    rules = _parse_acls(text)
    topic_rules = {k: v for k, v in rules.items() if k[1] == "topic"}
    assert {k[3] for k in topic_rules} == {"literal"}, "topic ACLs name one topic each"
    for channel in CHANNELS:
        granted = {k[0]: ops for k, ops in topic_rules.items() if k[2] == channel.topic}
        writers = {user for user, ops in granted.items() if "Write" in ops}
        readers = {user for user, ops in granted.items() if "Read" in ops}
        assert writers == set(channel.producers), channel.topic
        assert readers == set(channel.consumers), channel.topic
        assert {user for user, ops in granted.items() if "Describe" in ops} == set(SERVICE_PORTS)
    assert {k[2] for k in topic_rules} == set(TOPICS)
    allowed = {"Describe", "Read", "Write"}
    assert all(ops <= allowed for ops in rules.values()), "no Create/Alter/Delete/All"
    # The two rules of issue 13 in words:
    for (user, _, topic, _), ops in topic_rules.items():
        if topic.startswith("md.") and "Write" in ops:
            assert user == "ingest", f"{user} may write market data {topic}"
        if topic in ("jobs.events.v1", "quant.analytics.v1") and "Write" in ops:
            assert user == "quant", f"{user} may write {topic}"
    groups = {(k[0], k[2], k[3]) for k, ops in rules.items() if k[1] == "group" and "Read" in ops}
    assert groups == {
        ("datasets", "datasets", "prefixed"),
        ("quant", "quant-jobs", "literal"),
        ("quant", "quant-analytics", "literal"),
    }


def _fake_kafka_home(tmp_path: Path) -> tuple[Path, Path]:
    """A KAFKA_HOME whose CLI tools record their arguments, one call a line."""
    calls = tmp_path / "calls.log"
    bin_dir = tmp_path / "kafka" / "bin"
    bin_dir.mkdir(parents=True)
    for tool in ("kafka-configs.sh", "kafka-acls.sh"):
        script = bin_dir / tool
        script.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\n')
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return bin_dir.parent, calls


def _run_init(tmp_path: Path, passwords: dict[str, str]) -> tuple[int, str, list[str]]:
    home, calls = _fake_kafka_home(tmp_path)
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    for user, password in passwords.items():
        (secrets / f"kafka_{user}_password").write_text(password)
    env = {
        "PATH": os.environ["PATH"],
        "KAFKA_HOME": str(home),
        "SECRETS_DIR": str(secrets),
        "KAFKA_BOOTSTRAP": "kafka:9092",
        "TMPDIR": str(tmp_path),
    }
    done = subprocess.run(
        ["bash", str(KAFKA_DIR / "init.sh")], env=env, capture_output=True, text=True, timeout=30
    )
    lines = calls.read_text().splitlines() if calls.exists() else []
    return done.returncode, done.stdout + done.stderr, lines


def test_init_script_creates_each_login_and_every_acl(tmp_path: Path) -> None:
    secrets = deploy_secrets()
    users = [kafka_acls.ADMIN, *kafka_acls.SERVICES]
    passwords = {user: secrets[f"KAFKA_{user.upper()}_PASSWORD"] for user in users}
    status, output, calls = _run_init(tmp_path, passwords)
    assert status == 0, output
    logins = [c for c in calls if c.startswith("kafka-configs.sh")]
    for user, line in zip(kafka_acls.SERVICES, logins, strict=True):
        assert f"--entity-type users --entity-name {user} " in line
        assert f"password={passwords[user]}]" in line
        assert "--bootstrap-server kafka:9092 --command-config" in line
    added = [c.split(" --add ", 1)[1] for c in calls if c.startswith("kafka-acls.sh")]
    assert added == [acl.arguments() for acl in kafka_acls.acls()]
    assert list(tmp_path.glob("tmp.*")) == [], "the admin client properties are removed"


@pytest.mark.parametrize("bad", ["REPLACE-ME", "", "has space and 16+ chars", "x" * 15])
def test_init_script_refuses_a_placeholder_password_before_changing_anything(
    tmp_path: Path, bad: str
) -> None:
    passwords = {user: "a" * 32 for user in [kafka_acls.ADMIN, *kafka_acls.SERVICES]}
    passwords["quant"] = bad
    status, output, calls = _run_init(tmp_path, passwords)
    assert status == 2, output
    assert "kafka_quant_password" in output
    assert calls == []


# --- secrets: none in the files ------------------------------------------------------------------


def _secret_like(name: str) -> bool:
    return bool(SECRET_NAME.search(name.upper()))


def test_compose_takes_every_secret_from_the_environment(compose: dict[str, Any]) -> None:
    """Passwords, tokens and URLs with credentials: a required `${VAR:?...}`, never a literal
    and never a `${VAR:-default}` (a default is a literal password)."""
    text = COMPOSE_FILE.read_text()
    assert not re.search(r"\$\{[A-Z0-9_]*(PASSWORD|TOKEN|SECRET)[A-Z0-9_]*:?-", text)
    checked = 0
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        for variable, value in env.items():
            if _secret_like(variable):
                assert REQUIRED_VARIABLE.search(str(value)), f"{name}: {variable}={value}"
                checked += 1
        for arg in service.get("command") or []:
            assert "password=" not in str(arg).lower(), f"{name}: {arg}"
    assert checked >= 9  # 4 services' Kafka logins, topic-init, gateway x2, postgres, grafana...
    for name, secret in compose["secrets"].items():
        assert set(secret) == {"environment"}, f"{name}: from a variable, not a file in the repo"


def test_compose_config_stops_when_a_secret_is_missing(compose_binary: Path) -> None:
    """Without deploy/.env, `config` (and `up`) stops naming the missing variable."""
    secrets = deploy_secrets()
    del secrets["KAFKA_QUANT_PASSWORD"]
    result = compose_config(compose_binary, COMPOSE_FILE, secrets)
    assert result.returncode != 0
    assert "KAFKA_QUANT_PASSWORD" in result.stderr, result.stderr


def _secret_refs(doc: Any) -> set[tuple[str, str]]:
    if isinstance(doc, dict):
        found = set()
        if "secretKeyRef" in doc:
            found.add((doc["secretKeyRef"]["name"], doc["secretKeyRef"]["key"]))
        if "secretName" in doc:
            found |= {(doc["secretName"], item["key"]) for item in doc.get("items", [])}
        for value in doc.values():
            found |= _secret_refs(value)
        return found
    if isinstance(doc, list):
        return set().union(*map(_secret_refs, doc)) if doc else set()
    return set()


def test_k8s_reads_every_secret_from_a_secret(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    # A Secret in the kustomization would overwrite the real one on every apply.
    assert not [key for key in k8s if key[0] == "Secret"], "see examples/secrets.yaml"
    for (kind, name), doc in k8s.items():
        if kind == "ConfigMap":
            for variable in doc["data"]:
                assert not _secret_like(variable), f"{name}: {variable} in a ConfigMap"
        for item in _walk_env(doc):
            if _secret_like(item["name"]):
                assert "secretKeyRef" in item.get("valueFrom", {}), f"{name}: {item['name']}"


def _walk_env(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, dict):
        found = [e for e in doc.get("env", []) if isinstance(e, dict)]
        return found + [e for v in doc.values() for e in _walk_env(v)]
    if isinstance(doc, list):
        return [e for v in doc for e in _walk_env(v)]
    return []


def test_k8s_example_secrets_hold_every_key_and_only_placeholders(
    k8s: dict[tuple[str, str], dict[str, Any]], kubernetes_validate: list[str]
) -> None:
    example = K8S_DIR / "examples/secrets.yaml"
    ok, report = k8s_validate(kubernetes_validate, [example])
    assert ok, report
    examples = load_k8s([example])
    offered = {(name, key) for (kind, name), doc in examples.items() for key in doc["stringData"]}
    assert _secret_refs(list(k8s.values())) <= offered
    for doc in examples.values():
        assert set(doc["stringData"].values()) == {"REPLACE-ME"}
    # The header's commands create the real ones.
    header = example.read_text()
    assert "make-env.sh" in header and "create secret generic sextant-secrets" in header


def test_every_consumer_group_the_services_use_is_granted() -> None:
    """The groups from the settings' defaults (and those the code names after them) are covered
    by the service's group ACLs, literal or prefixed."""
    datasets = DatasetsSettings.model_construct()  # the defaults, not this machine's env
    quant = QuantSettings.model_construct()
    used = {
        "datasets": {
            datasets.datasets_group,
            datasets.dead_letter_group,
            f"{datasets.datasets_group}.facts",  # sextant_datasets.app
            f"{datasets.datasets_group}.options",  # sextant_datasets.options.sink
        },
        "quant": {quant.quant_jobs_group, quant.quant_analytics_group},
    }
    rules = _parse_acls((KAFKA_DIR / "acls.sh").read_text())
    for service, groups in used.items():
        granted = [
            (name, pattern)
            for (user, resource, name, pattern), ops in rules.items()
            if user == service and resource == "group" and "Read" in ops
        ]
        for group in groups:
            assert any(
                group == name if pattern == "literal" else group.startswith(name)
                for name, pattern in granted
            ), f"{service} may not use consumer group {group}"
