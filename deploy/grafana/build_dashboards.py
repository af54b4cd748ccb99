"""Writes the Grafana dashboards under deploy/grafana/dashboards/ from the short specs below.

Run ``python deploy/grafana/build_dashboards.py`` after editing a spec and commit the JSON with
it; tests/deploy/test_observability.py fails while the committed JSON differs from what this
script writes. Grafana loads the JSON through provisioning/dashboards/sextant.yml, which refuses
saving from the UI: change a dashboard here.

Every query goes to the provisioned Prometheus datasource (uid ``prometheus``). Job names are
``sextant-<service>`` (deploy/prometheus/prometheus.yml); thresholds drawn on panels are the ones
deploy/prometheus/alerts.yml alerts on.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

OUT_DIR = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
SCHEMA_VERSION = 41
"""Grafana 12's dashboard JSON model version (Grafana migrates older ones on load)."""

PANEL_WIDTH = 12
PANEL_HEIGHT = 8
GRID_COLUMNS = 24
RATE = "$__rate_interval"
"""Grafana's range for rate(): at least four scrape intervals, so a rate never has one sample."""


@dataclass(frozen=True)
class Query:
    """One PromQL query of a panel and the legend of its series (``{{label}}`` placeholders)."""

    expr: str
    legend: str


@dataclass(frozen=True)
class Panel:
    """A time series (or ``stat``) panel; ``unit`` is a Grafana unit id (``s``, ``reqps`` ...)."""

    title: str
    description: str
    queries: Sequence[Query]
    unit: str
    threshold: float | None = None
    """Drawn as a red line: the value its alert in alerts.yml fires above."""
    kind: str = "timeseries"


@dataclass(frozen=True)
class Dashboard:
    """A dashboard: its panels two to a row, in order; ``job_variable`` adds a $job selector."""

    uid: str
    title: str
    description: str
    panels: Sequence[Panel]
    job_variable: bool = False
    tags: Sequence[str] = ("sextant",)


def rate(selector: str, by: str = "") -> str:
    """``sum by (<by>) (rate(<selector>[$__rate_interval]))`` (``sum(...)`` without ``by``): per
    second."""
    grouping = f" by ({by}) " if by else ""
    return f"sum{grouping}(rate({selector}[{RATE}]))"


def quantile(q: float, histogram: str, selector: str, by: str) -> str:
    """The ``q`` quantile of a prometheus-client histogram (``<histogram>_bucket``) by ``by``."""
    buckets = f"{histogram}_bucket{{{selector}}}" if selector else f"{histogram}_bucket"
    return f"histogram_quantile({q}, {rate(buckets, f'{by}, le')})"


def ratio(numerator: str, denominator: str) -> str:
    """``numerator / denominator``, on two lines for the reader of the panel's query."""
    return f"{numerator}\n  / {denominator}"


def lag(selector: str, by: str) -> str:
    """Unread records by ``by``, each partition counted once (replicas may report the same one)."""
    return (
        f"sum by ({by}) (max by (topic, group, partition) (sextant_consumer_lag_records{selector}))"
    )


HTTP = 'job=~"$job"'
"""The API dashboard's services: its $job selector."""
HTTP_REQUESTS = f"sextant_http_requests_total{{{HTTP}}}"
HTTP_5XX = f'sextant_http_requests_total{{{HTTP}, status=~"5.."}}'
HTTP_LATENCY = "sextant_http_request_duration_seconds"
CACHE_LOOKUPS = f"sextant_cache_requests_total{{{HTTP}}}"
CACHE_HITS = f'sextant_cache_requests_total{{{HTTP}, result="hit"}}'

API = Dashboard(
    uid="sextant-api",
    title="Sextant / API",
    description="HTTP traffic of every Sextant service: throughput, errors, latency by route.",
    job_variable=True,
    panels=[
        Panel(
            "Requests by route",
            "Requests answered per second, by service and route template.",
            [Query(rate(HTTP_REQUESTS, "job, route"), "{{job}} {{route}}")],
            "reqps",
        ),
        Panel(
            "5xx error ratio",
            "Share of requests answered 5xx; SextantHighErrorRate fires above 5% for 5 minutes.",
            [
                Query(
                    ratio(
                        rate(HTTP_5XX, "job"),
                        rate(HTTP_REQUESTS, "job"),
                    ),
                    "{{job}}",
                )
            ],
            "percentunit",
            threshold=0.05,
        ),
        Panel(
            "Responses by status",
            "Requests per second by HTTP status (401/403: auth, 429: quotas or a full job queue).",
            [Query(rate(HTTP_REQUESTS, "status"), "{{status}}")],
            "reqps",
        ),
        Panel(
            "p50 latency by route",
            "Median time to answer, by service and route.",
            [Query(quantile(0.5, HTTP_LATENCY, HTTP, "job, route"), "{{job}} {{route}}")],
            "s",
        ),
        Panel(
            "p95 latency by route",
            "95th percentile; SextantHighLatency fires when a service's p95 (all routes) is "
            "above 500 ms for 5 minutes.",
            [Query(quantile(0.95, HTTP_LATENCY, HTTP, "job, route"), "{{job}} {{route}}")],
            "s",
            threshold=0.5,
        ),
        Panel(
            "p99 latency by route",
            "99th percentile, by service and route.",
            [Query(quantile(0.99, HTTP_LATENCY, HTTP, "job, route"), "{{job}} {{route}}")],
            "s",
        ),
        Panel(
            "Auth failures and quota rejections",
            "Gateway requests refused per second: bad or missing credentials by reason, "
            "quotas by quota.",
            [
                Query(rate("sextant_auth_failures_total", "reason"), "auth: {{reason}}"),
                Query(rate("sextant_quota_rejections_total", "quota"), "quota: {{quota}}"),
            ],
            "reqps",
        ),
        Panel(
            "Cache hit ratio",
            "Share of cache lookups answered from the cache, by service and cache.",
            [
                Query(
                    ratio(
                        rate(CACHE_HITS, "job, cache"),
                        rate(CACHE_LOOKUPS, "job, cache"),
                    ),
                    "{{job}} {{cache}}",
                )
            ],
            "percentunit",
        ),
        Panel(
            "Targets up",
            "1 when Prometheus scraped the service's /metrics; SextantServiceDown fires after "
            "1 minute at 0.",
            [Query(f"up{{{HTTP}}}", "{{job}} {{instance}}")],
            "short",
            kind="stat",
        ),
    ],
)

BUS = Dashboard(
    uid="sextant-bus",
    title="Sextant / Bus",
    description="Kafka traffic: records produced and consumed, consumer lag, dead letters.",
    panels=[
        Panel(
            "Produced by topic",
            "Records acknowledged by the broker per second, by topic.",
            [Query(rate("sextant_events_produced_total", "topic"), "{{topic}}")],
            "cps",
        ),
        Panel(
            "Consumed by topic and group",
            "Records handled per second, by consumer group and topic.",
            [Query(rate("sextant_events_consumed_total", "topic, group"), "{{group}} ← {{topic}}")],
            "cps",
        ),
        Panel(
            "Consumer lag",
            "Records not yet read, by group and topic; SextantConsumerLag fires above 10000 "
            "for 5 minutes.",
            [Query(lag("", "topic, group"), "{{group}} on {{topic}}")],
            "short",
            threshold=10_000,
        ),
        Panel(
            "Dead letters (last 10 minutes)",
            "Records sent to dlq.v1 by the consumer that refused them, by their source topic, and "
            "dead letters the datasets keeper stored (SextantDeadLetters fires above 0).",
            [
                Query("sum by (topic) (increase(sextant_dead_letters_total[10m]))", "{{topic}}"),
                Query("sum(increase(sextant_dlq_letters_kept_total[10m]))", "kept (all topics)"),
            ],
            "short",
            threshold=0,
        ),
        Panel(
            "Consumer flush p95",
            "Time to make one buffer of records durable before committing offsets, by group.",
            [Query(quantile(0.95, "sextant_consumer_flush_seconds", "", "group"), "{{group}}")],
            "s",
        ),
    ],
)

INGEST = Dashboard(
    uid="sextant-ingest",
    title="Sextant / Ingest",
    description="Market data in: bars and option quotes published, what reached the lake.",
    panels=[
        Panel(
            "Bars published by source",
            "Bars ingest published to md.bars.v1 per second, by provider.",
            [Query(rate("sextant_ingest_bars_published_total", "source"), "{{source}}")],
            "cps",
        ),
        Panel(
            "Option quotes published by source",
            "Option quotes ingest published per second, by provider.",
            [Query(rate("sextant_ingest_option_quotes_published_total", "source"), "{{source}}")],
            "cps",
        ),
        Panel(
            "Bars into the lake",
            "Bars per second the datasets consumer appended, skipped as redelivered, or refused "
            "(unknown source, future date).",
            [
                Query(rate("sextant_lake_bars_written_total"), "written"),
                Query(rate("sextant_lake_bars_duplicate_total"), "duplicate"),
                Query(rate("sextant_lake_bars_refused_total"), "refused"),
            ],
            "cps",
        ),
        Panel(
            "Fetched records into the lake",
            "Records per second appended to the lake, by dataset (fundamentals, macro, news ...).",
            [Query(rate("sextant_lake_facts_written_total", "dataset"), "{{dataset}}")],
            "cps",
        ),
    ],
)

JOBS_RUN = "sextant_quant_jobs_run_total"
JOB_REQUESTS_PRODUCED = 'sextant_events_produced_total{topic="jobs.requests.v1"}'
QUEUE_FULL = 'sextant_http_requests_total{job="sextant-quant", status="429"}'
JOBS = Dashboard(
    uid="sextant-jobs",
    title="Sextant / Jobs",
    description="Backtests, sweeps and other jobs: how long they take, how they end, the queue.",
    panels=[
        Panel(
            "Job duration by kind",
            "Time from start to final state, p50 and p95, by job kind.",
            [
                Query(quantile(0.5, "sextant_job_duration_seconds", "", "kind"), "p50 {{kind}}"),
                Query(quantile(0.95, "sextant_job_duration_seconds", "", "kind"), "p95 {{kind}}"),
            ],
            "s",
        ),
        Panel(
            "Jobs finished by kind and status",
            "Jobs per minute reaching a final state.",
            [Query(f"60 * {rate(JOBS_RUN, 'kind, status')}", "{{kind}} {{status}}")],
            "opm",
        ),
        Panel(
            "Failed share by kind",
            "Share of finished jobs that failed; SextantJobsFailing fires above 20% (15 minutes, "
            "at least 3 failures).",
            [
                Query(
                    ratio(rate(f'{JOBS_RUN}{{status="failed"}}', "kind"), rate(JOBS_RUN, "kind")),
                    "{{kind}}",
                )
            ],
            "percentunit",
            threshold=0.2,
        ),
        Panel(
            "Queue: requested and finished",
            "Job requests published per minute against jobs finished per minute: requests above "
            "finished for long means the queue grows.",
            [
                Query(f"60 * {rate(JOB_REQUESTS_PRODUCED)}", "requested"),
                Query(f"60 * {rate(JOBS_RUN)}", "finished"),
            ],
            "opm",
        ),
        Panel(
            "Requests waiting for a runner",
            "Unread records on jobs.requests.v1, by runner group.",
            [Query(lag('{topic="jobs.requests.v1"}', "group"), "{{group}}")],
            "short",
        ),
        Panel(
            "Submissions refused: queue full",
            "Job submissions quant answered 429 per minute because too many jobs wait to start.",
            [Query(f"60 * {rate(QUEUE_FULL, 'route')}", "{{route}}")],
            "opm",
        ),
    ],
)

WEBSOCKET = Dashboard(
    uid="sextant-websocket",
    title="Sextant / WebSocket",
    description="The gateway's live fan-out: connected clients, messages, dropped clients.",
    panels=[
        Panel(
            "Connected clients",
            "WebSocket clients connected, by gateway replica.",
            [Query("sum by (instance) (sextant_ws_clients)", "{{instance}}")],
            "short",
        ),
        Panel(
            "Clients dropped (last 5 minutes)",
            "Clients the gateway disconnected, by cause (queue_full, lagging, keepalive); "
            "SextantWebSocketDrops fires when all causes together pass 20.",
            [
                Query("sum by (cause) (increase(sextant_ws_client_drops_total[5m]))", "{{cause}}"),
                Query("sum(increase(sextant_ws_clients_dropped_total[5m]))", "all causes"),
            ],
            "short",
            threshold=20,
        ),
        Panel(
            "Messages sent",
            "Messages queued to WebSocket clients per second, by gateway replica.",
            [Query(rate("sextant_ws_messages_sent_total", "instance"), "{{instance}}")],
            "cps",
        ),
        Panel(
            "Handshakes refused for their Origin",
            "WebSocket handshakes per second refused because their Origin is not allowed.",
            [Query(rate("sextant_ws_origin_rejected_total", "instance"), "{{instance}}")],
            "cps",
        ),
    ],
)

DASHBOARDS = (API, BUS, INGEST, JOBS, WEBSOCKET)


def _panel_json(panel: Panel, panel_id: int) -> dict[str, Any]:
    index = panel_id - 1
    steps: list[dict[str, Any]] = [{"color": "green", "value": None}]
    if panel.threshold is not None:
        steps.append({"color": "red", "value": panel.threshold})
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        "thresholds": {"mode": "absolute", "steps": steps},
    }
    if panel.kind == "timeseries":
        style = "line" if panel.threshold is not None else "off"
        defaults["custom"] = {"thresholdsStyle": {"mode": style}}
        options: dict[str, Any] = {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["mean", "max"]},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    else:
        defaults["thresholds"]["steps"] = [
            {"color": "red", "value": None},
            {"color": "green", "value": 1},
        ]
        options = {"colorMode": "background", "reduceOptions": {"calcs": ["lastNotNull"]}}
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {
            "h": PANEL_HEIGHT,
            "w": PANEL_WIDTH,
            "x": (index * PANEL_WIDTH) % GRID_COLUMNS,
            "y": (index * PANEL_WIDTH) // GRID_COLUMNS * PANEL_HEIGHT,
        },
        "targets": [
            {
                "refId": chr(ord("A") + n),
                "datasource": DATASOURCE,
                "expr": query.expr,
                "legendFormat": query.legend,
                "range": True,
            }
            for n, query in enumerate(panel.queries)
        ],
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": options,
    }


def _job_variable() -> dict[str, Any]:
    query = 'label_values(up{job=~"sextant-.+"}, job)'
    return {
        "name": "job",
        "label": "Service",
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"query": query, "refId": "job"},
        "refresh": 2,
        "multi": True,
        "includeAll": True,
        "allValue": "sextant-.+",
        "current": {"text": "All", "value": "$__all"},
        "sort": 1,
    }


def dashboard_json(dashboard: Dashboard) -> dict[str, Any]:
    """The Grafana JSON model of ``dashboard``; panel ids are 1, 2, ... in the spec's order."""
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": list(dashboard.tags),
        "timezone": "utc",
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "time": {"from": "now-3h", "to": "now"},
        "refresh": "30s",
        "templating": {"list": [_job_variable()] if dashboard.job_variable else []},
        "annotations": {"list": []},
        "links": [],
        "panels": [_panel_json(p, n) for n, p in enumerate(dashboard.panels, start=1)],
    }


def render() -> dict[Path, str]:
    """Every dashboard file's path and its text (2-space JSON, a newline at the end)."""
    return {
        OUT_DIR / f"{d.uid}.json": json.dumps(dashboard_json(d), indent=2, ensure_ascii=False)
        + "\n"
        for d in DASHBOARDS
    }


def main() -> int:
    OUT_DIR.mkdir(exist_ok=True)
    written = render()
    for stale in set(OUT_DIR.glob("*.json")) - written.keys():
        stale.unlink()
    for path, text in written.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
