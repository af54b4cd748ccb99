"""Prometheus config, alert rules and Grafana dashboards, checked with promtool (no server).

- deploy/prometheus/prometheus.yml: ``promtool check config`` (which also checks the rule files it
  loads); the gateway's job, and only it, sends the metrics token.
- deploy/prometheus/alerts.yml: ``promtool check rules`` and ``promtool test rules`` on
  alerts.test.yml; every alert has a test where it fires and one where it stays silent.
- deploy/grafana/dashboards/*.json: exactly what deploy/grafana/build_dashboards.py writes; unique
  uids and panel ids, the provisioned datasource, every query parsed by promtool (as a recording
  rule: promtool has no bare expression checker), every ``$variable`` defined.
- Every metric the alerts and dashboards read is one the code defines: the modules that import
  prometheus_client are imported and their metrics read from the client's registry.

promtool comes from Debian's prometheus package (scripts/ensure_system_deps.sh, run by
`make test`); a missing promtool fails these tests. Each promtool check also runs once on a broken
input, so a promtool that accepts everything fails the suite.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "deploy/prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
ALERTS = PROMETHEUS_DIR / "alerts.yml"
ALERT_TESTS = PROMETHEUS_DIR / "alerts.test.yml"
GRAFANA_DIR = REPO / "deploy/grafana"
DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
DATASOURCES = GRAFANA_DIR / "provisioning/datasources/prometheus.yml"
DASHBOARD_PROVIDER = GRAFANA_DIR / "provisioning/dashboards/sextant.yml"
COMPOSE_FILE = REPO / "deploy/compose.yml"
METRIC_SOURCES = [REPO / "libs", REPO / "services"]

DASHBOARD_UIDS = {f"sextant-{name}" for name in ("api", "bus", "ingest", "jobs", "websocket")}
"""The dashboards issue 13 asks for."""
GATEWAY_JOB = "sextant-gateway"
METRICS_TOKEN_FILE = "/run/secrets/metrics_token"
SEVERITIES = {"critical", "warning"}
PROMETHEUS_METRICS = {"up"}
"""Series Prometheus writes itself for every target."""
GRAFANA_MACROS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}
"""Grafana's built-in range variables and a value of each, to give promtool a valid query."""
MACRO_NAMES = {macro.removeprefix("$") for macro in GRAFANA_MACROS}

SUBPROCESS_TIMEOUT_S = 60


# --- promtool --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.fail(
            "promtool not found: install Debian's prometheus package (`make system-deps` runs "
            "scripts/ensure_system_deps.sh)"
        )
    return found


def _promtool(promtool: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        cwd=REPO,
    )


def _assert_ok(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr, result.stdout + result.stderr


def _write_yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


# --- Prometheus config -----------------------------------------------------------------------


def _checkable_config(tmp_path: Path) -> Path:
    """A copy of prometheus.yml promtool can check here: the token file a temp file (promtool
    wants it to exist) and the rule files by absolute path (they are relative to the config)."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    token = tmp_path / "metrics_token"
    token.write_text("not-a-real-token\n")
    for job in config["scrape_configs"]:
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token)
    config["rule_files"] = [str(PROMETHEUS_DIR / name) for name in config["rule_files"]]
    return _write_yaml(tmp_path / "prometheus.yml", config)


def test_prometheus_config_passes_promtool(promtool: str, tmp_path: Path) -> None:
    result = _promtool(promtool, "check", "config", _checkable_config(tmp_path))
    _assert_ok(result)
    assert "alerts.yml" in result.stdout  # the rule files were checked with the config


def test_promtool_rejects_a_broken_config(promtool: str, tmp_path: Path) -> None:
    config = yaml.safe_load(_checkable_config(tmp_path).read_text())
    config["global"]["scrape_interval"] = "every now and then"
    result = _promtool(promtool, "check", "config", _write_yaml(tmp_path / "broken.yml", config))
    assert result.returncode != 0, result.stdout


def test_prometheus_loads_the_alert_rules() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    assert [PROMETHEUS_DIR / name for name in config["rule_files"]] == [ALERTS]


def test_only_the_gateway_scrape_sends_the_metrics_token() -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    with_token = {
        job["job_name"]: job["authorization"]
        for job in config["scrape_configs"]
        if "authorization" in job
    }
    assert with_token == {GATEWAY_JOB: {"type": "Bearer", "credentials_file": METRICS_TOKEN_FILE}}


# --- what compose mounts --------------------------------------------------------------------


def _host_path(service: dict[str, Any], container_path: str) -> Path | None:
    """The file or folder under deploy/ that a compose service sees at ``container_path``, from
    its bind mounts (the deepest mount wins, as in the container); None if nothing is mounted."""
    target = PurePosixPath(container_path)
    mounts: list[tuple[PurePosixPath, Path]] = []
    for volume in service.get("volumes", []):
        if isinstance(volume, dict):
            source, mounted = volume.get("source", ""), volume["target"]
        else:
            source, mounted = volume.split(":")[:2]
        if source.startswith((".", "/")):  # a bind mount, not a named volume
            mounts.append((PurePosixPath(mounted), COMPOSE_FILE.parent / source))
    covering = [(m, host) for m, host in mounts if m == target or m in target.parents]
    if not covering:
        return None
    mount, host = max(covering, key=lambda c: len(c[0].parts))
    return (host / target.relative_to(mount)).resolve()


def test_compose_mounts_the_rules_and_the_token_prometheus_reads() -> None:
    prometheus = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["prometheus"]
    (config_flag,) = [arg for arg in prometheus["command"] if arg.startswith("--config.file=")]
    config_path = PurePosixPath(config_flag.split("=", 1)[1])
    assert _host_path(prometheus, str(config_path)) == PROMETHEUS_CONFIG
    for rule_file in yaml.safe_load(PROMETHEUS_CONFIG.read_text())["rule_files"]:
        assert _host_path(prometheus, str(config_path.parent / rule_file)) == ALERTS, rule_file
    secrets = {s if isinstance(s, str) else s["source"] for s in prometheus.get("secrets", [])}
    assert METRICS_TOKEN_FILE.removeprefix("/run/secrets/") in secrets, secrets


def test_compose_mounts_the_dashboards_where_grafana_looks() -> None:
    grafana = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["grafana"]
    provider_file = _host_path(grafana, "/etc/grafana/provisioning/dashboards/sextant.yml")
    assert provider_file == DASHBOARD_PROVIDER
    (provider,) = yaml.safe_load(DASHBOARD_PROVIDER.read_text())["providers"]
    assert _host_path(grafana, provider["options"]["path"]) == DASHBOARDS_DIR


# --- alert rules -----------------------------------------------------------------------------


def _alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_alert_rules_pass_promtool(promtool: str) -> None:
    _assert_ok(_promtool(promtool, "check", "rules", ALERTS))


def test_alert_rules_unit_tests_pass(promtool: str) -> None:
    _assert_ok(_promtool(promtool, "test", "rules", ALERT_TESTS))


def test_promtool_test_rules_fails_on_a_wrong_expectation(promtool: str, tmp_path: Path) -> None:
    tests = yaml.safe_load(ALERT_TESTS.read_text())
    tests["rule_files"] = [str(PROMETHEUS_DIR / name) for name in tests["rule_files"]]
    firing = next(
        check for case in tests["tests"] for check in case["alert_rule_test"] if check["exp_alerts"]
    )
    firing["exp_alerts"][0]["exp_labels"]["severity"] = "page"
    result = _promtool(promtool, "test", "rules", _write_yaml(tmp_path / "wrong.yml", tests))
    assert result.returncode != 0, result.stdout


def test_every_alert_is_tested_firing_and_silent() -> None:
    outcomes: dict[str, set[bool]] = {}
    for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for check in case["alert_rule_test"]:
            outcomes.setdefault(check["alertname"], set()).add(bool(check["exp_alerts"]))
    alerts = {rule["alert"] for rule in _alert_rules() if "alert" in rule}
    untested = {
        alert: "never fires" if True not in seen else "never stays silent"
        for alert in alerts
        if (seen := outcomes.get(alert, set())) != {True, False}
    }
    assert not untested, f"alerts.test.yml: {untested}"
    assert outcomes.keys() <= alerts, f"tests of unknown alerts: {outcomes.keys() - alerts}"


def test_every_alert_has_a_severity_summary_and_description() -> None:
    for rule in _alert_rules():
        assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
        assert {"summary", "description"} <= rule["annotations"].keys(), rule["alert"]


# --- Grafana dashboards ----------------------------------------------------------------------


def _load_generator() -> ModuleType:
    path = GRAFANA_DIR / "build_dashboards.py"
    spec = importlib.util.spec_from_file_location("build_dashboards", path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def _dashboards() -> dict[str, dict[str, Any]]:
    return {
        path.name: json.loads(path.read_text()) for path in sorted(DASHBOARDS_DIR.glob("*.json"))
    }


def _queries() -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, target) of every query in every dashboard, ``where`` naming dashboard/panel/ref."""
    for name, dashboard in _dashboards().items():
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                yield f"{name} panel {panel['id']} {target['refId']}", target


def test_dashboards_are_what_the_generator_writes() -> None:
    rendered = {path.name: text for path, text in _load_generator().render().items()}
    on_disk = {path.name: path.read_text() for path in DASHBOARDS_DIR.glob("*.json")}
    assert on_disk.keys() == rendered.keys()
    stale = sorted(name for name, text in rendered.items() if on_disk[name] != text)
    assert not stale, f"{stale} differ: run `python deploy/grafana/build_dashboards.py`"


def test_dashboards_have_unique_ids_and_the_provisioned_datasource() -> None:
    (source,) = yaml.safe_load(DATASOURCES.read_text())["datasources"]
    datasource = {"type": source["type"], "uid": source["uid"]}
    dashboards = _dashboards()
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids), uids
    assert set(uids) >= DASHBOARD_UIDS
    for name, dashboard in dashboards.items():
        ids = [panel["id"] for panel in dashboard["panels"]]
        assert len(ids) == len(set(ids)), f"{name}: panel ids {ids}"
        for panel in dashboard["panels"]:
            assert panel["targets"], f"{name}: panel {panel['id']} has no query"
            used = [panel["datasource"], *(t["datasource"] for t in panel["targets"])]
            assert all(d == datasource for d in used), f"{name}: panel {panel['id']}: {used}"


def test_dashboard_variables_are_defined() -> None:
    for name, dashboard in _dashboards().items():
        defined = {variable["name"] for variable in dashboard["templating"]["list"]}
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                used = set(re.findall(r"\$(\w+)", target["expr"])) - MACRO_NAMES
                assert used <= defined, f"{name} panel {panel['id']}: ${used - defined} undefined"


def _as_recording_rules(queries: list[tuple[str, str]]) -> dict[str, Any]:
    """One recording rule per query, Grafana's range macros replaced by durations."""
    rules = []
    for n, (_, expr) in enumerate(queries):
        for macro, value in GRAFANA_MACROS.items():
            expr = expr.replace(macro, value)
        rules.append({"record": f"dashboard:query_{n}", "expr": expr})
    return {"groups": [{"name": "dashboard-queries", "rules": rules}]}


def test_dashboard_queries_parse(promtool: str, tmp_path: Path) -> None:
    queries = [(where, target["expr"]) for where, target in _queries()]
    rules = _write_yaml(tmp_path / "queries.yml", _as_recording_rules(queries))
    result = _promtool(promtool, "check", "rules", rules)
    report = result.stdout + result.stderr
    # promtool names a broken rule by its index: map it back to the dashboard panel.
    for n, (where, _) in enumerate(queries):
        report = report.replace(f"dashboard:query_{n}", where)
    assert result.returncode == 0, report
    assert f"SUCCESS: {len(queries)} rules found" in report, report


def test_promtool_rejects_a_broken_query(promtool: str, tmp_path: Path) -> None:
    broken = [("broken", "sum by (job) (rate(sextant_http_requests_total[$__rate_interval])")]
    rules = _write_yaml(tmp_path / "queries.yml", _as_recording_rules(broken))
    assert _promtool(promtool, "check", "rules", rules).returncode != 0


# --- metric names ----------------------------------------------------------------------------

SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("", "_sum", "_count"),
    "info": ("_info",),
    "stateset": ("",),
    "unknown": ("",),
}
"""The series a metric family of each type exposes (prometheus_client; ``_created`` left out)."""
SERIES_LABELS = {"_bucket": {"le"}}
"""Labels a series has beyond its metric's label names."""


def _modules_using_prometheus_client() -> list[str]:
    """Dotted names of the modules under libs/ and services/ that import prometheus_client."""
    modules = []
    for root in METRIC_SOURCES:
        for path in sorted(root.rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            if any(
                (isinstance(node, ast.ImportFrom) and node.module == "prometheus_client")
                or (
                    isinstance(node, ast.Import)
                    and any(alias.name == "prometheus_client" for alias in node.names)
                )
                for node in ast.walk(tree)
            ):
                parts = path.with_suffix("").parts
                package = next(i for i, part in enumerate(parts) if part.startswith("sextant_"))
                modules.append(".".join(p for p in parts[package:] if p != "__init__"))
    return modules


@pytest.fixture(scope="module")
def defined_metrics() -> dict[str, frozenset[str] | None]:
    """Every series name the services expose -> its label names (None: not known, for the
    registry's own process and platform metrics), after importing every module that uses
    prometheus_client."""
    modules = _modules_using_prometheus_client()
    assert "sextant_common.durable_consumer" in modules, modules  # the scan finds what we know
    label_names: dict[str, frozenset[str]] = {}
    for module in map(importlib.import_module, modules):
        for value in vars(module).values():
            if isinstance(value, MetricWrapperBase):
                # prometheus_client keeps label names private; describe() gives the family name.
                (family,) = value.describe()
                label_names[family.name] = frozenset(value._labelnames)
    series: dict[str, frozenset[str] | None] = {}
    for family in REGISTRY.collect():
        labels = label_names.get(family.name)
        assert labels is not None or not family.name.startswith("sextant_"), (
            f"{family.name}: not a module-level metric of {modules}, its labels are unknown"
        )
        for suffix in SAMPLE_SUFFIXES[family.type]:
            extra = SERIES_LABELS.get(suffix, set())
            series[family.name + suffix] = None if labels is None else labels | extra
    return series


def _without_strings(expr: str) -> str:
    return re.sub(r'"[^"]*"', '""', expr)


def _metric_names(expr: str) -> set[str]:
    """The sextant_* metric names in a PromQL expression (string literals left out)."""
    return set(re.findall(r"\bsextant_\w+", _without_strings(expr)))


def _label_names(expr: str) -> set[str]:
    """The labels a PromQL expression groups, joins or matches on."""
    text = _without_strings(expr)
    clauses = re.findall(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)", text)
    grouped = {label.strip() for clause in clauses for label in clause.split(",")} - {""}
    selectors = " ".join(re.findall(r"\{([^}]*)\}", text))
    return grouped | set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", selectors))


def _readers() -> list[tuple[str, str, set[str]]]:
    """(where, expr, labels its annotations or legend show) of every alert and dashboard query."""
    readers = [
        (
            f"alerts.yml {rule['alert']}",
            rule["expr"],
            set(re.findall(r"\$labels\.(\w+)", " ".join(rule["annotations"].values()))),
        )
        for rule in _alert_rules()
    ]
    for where, target in _queries():
        legend = set(re.findall(r"\{\{\s*(\w+)\s*\}\}", target["legendFormat"]))
        readers.append((where, target["expr"], legend))
    return readers


def _target_labels() -> set[str]:
    """Labels Prometheus adds to every series it scrapes: job, instance and the static ones."""
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    static = [s for job in config["scrape_configs"] for s in job.get("static_configs", [])]
    return {"job", "instance"} | {label for s in static for label in s.get("labels", {})}


def test_the_metric_scan_reads_names_as_prometheus_exposes_them(
    defined_metrics: dict[str, frozenset[str] | None],
) -> None:
    # A counter, a gauge and a histogram of libs/common and the gateway, as /metrics shows them.
    assert defined_metrics["sextant_dead_letters_total"] == {"topic"}
    assert defined_metrics["sextant_consumer_flush_seconds_bucket"] == {"group", "le"}
    assert defined_metrics["sextant_ws_clients"] == set()
    assert "sextant_dead_letters" not in defined_metrics
    expr = 'sum by (a, b) (rate(sextant_x_total{c=~"sextant_y", d!="1"}[5m])) / on (e) sextant_z'
    assert _metric_names(expr) == {"sextant_x_total", "sextant_z"}
    assert _label_names(expr) == {"a", "b", "c", "d", "e"}


def test_alerts_and_dashboards_read_only_defined_metrics(
    defined_metrics: dict[str, frozenset[str] | None],
) -> None:
    known = defined_metrics.keys() | PROMETHEUS_METRICS
    unknown: dict[str, list[str]] = {}
    for where, expr, _ in _readers():
        names = _metric_names(expr) or (PROMETHEUS_METRICS & set(re.findall(r"\w+", expr)))
        assert names, f"{where} reads no metric: {expr}"
        for name in sorted(names - known):
            unknown.setdefault(name, []).append(where)
    assert not unknown, f"metrics no module defines: {unknown}"


def test_alerts_and_dashboards_use_labels_their_metrics_have(
    defined_metrics: dict[str, frozenset[str] | None],
) -> None:
    """A label a metric lacks (``consumer_group`` for ``group``) selects nothing: the panel
    stays empty and the alert never fires, so it is checked here."""
    target_labels = _target_labels()
    wrong = []
    for where, expr, shown in _readers():
        metrics = [defined_metrics.get(name) for name in _metric_names(expr)]
        if not metrics or None in metrics:  # only `up`, or an unknown metric (test above)
            continue
        has = set(target_labels).union(*(labels for labels in metrics if labels is not None))
        if missing := (_label_names(expr) | shown) - has:
            wrong.append(f"{where}: {sorted(missing)} not among {sorted(has)}")
    assert not wrong, "\n".join(wrong)
