"""One backtest posted at the gateway is one trace: gateway (HTTP server) -> quant (HTTP server)
-> job request on the bus -> the job runner's consumer span -> the job events it publishes, all
exported over OTLP/HTTP by the real services; and the gateway's and quant's log lines of that
request carry the same request id and user."""

from __future__ import annotations

import asyncio
import gzip
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto
from prometheus_client.parser import text_string_to_metric_families

from sextant_common import topics
from sextant_common.devstack import start_services, stop_services
from tests.support import (
    GatewayAuth,
    Ports,
    bar_series,
    create_test_users,
    publish_bars,
    service_env,
    spec,
    wait_for,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SYMBOL = "S000"  # bar_series' first instrument


@dataclass(frozen=True)
class ReceivedSpan:
    """A span as an OTLP receiver got it."""

    service: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    kind: str
    attributes: dict[str, Any]


class OtlpReceiver(ThreadingHTTPServer):
    """A minimal OTLP/HTTP trace receiver: decodes each ``ExportTraceServiceRequest`` posted to
    ``/v1/traces`` (protobuf, gzip or not) and keeps its spans."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ExportHandler)
        self.spans: list[ReceivedSpan] = []
        self.lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        """The base URL to give ``OTEL_EXPORTER_OTLP_ENDPOINT``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def keep(self, request: ExportTraceServiceRequest) -> None:
        """Keep every span of ``request`` with its resource's service name."""
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            service=resource["service.name"],
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            name=span.name,
                            kind=SpanProto.SpanKind.Name(span.kind),
                            attributes={a.key: _value(a.value) for a in span.attributes},
                        )
                    )
        with self.lock:
            self.spans.extend(received)

    def trace(self, trace_id: str) -> list[ReceivedSpan]:
        """The spans received so far of ``trace_id``."""
        with self.lock:
            return [span for span in self.spans if span.trace_id == trace_id]


def _value(value: Any) -> Any:
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


class _ExportHandler(BaseHTTPRequestHandler):
    server: OtlpReceiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path != "/v1/traces":
            self.send_error(404)
            return
        self.server.keep(ExportTraceServiceRequest.FromString(body))
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        return None  # the test's output is the services'


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    server = OtlpReceiver()
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class TracedStack:
    """Broker, datasets, quant and gateway exporting their spans, with JSON logs collected."""

    ports: Ports
    auth: GatewayAuth
    admin: GatewayAuth
    """Who may read the gateway's ``/metrics``."""
    log: list[str]

    def url(self, service: str) -> str:
        """Base URL of ``service``."""
        return f"http://127.0.0.1:{getattr(self.ports, service)}"

    def metrics(self, service: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """``service``'s ``/metrics``: each sample's value by its name and labels."""
        text = httpx.get(f"{self.url(service)}/metrics", auth=self.admin, timeout=5).text
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def lines(self, service: str) -> list[dict[str, Any]]:
        """``service``'s log lines so far, each parsed (every one must be JSON)."""
        prefix = f"[{service}] "
        return [orjson.loads(line[len(prefix) :]) for line in self.log if line.startswith(prefix)]


@pytest.fixture
def traced_stack(
    kafka_bootstrap: str, tmp_path: Path, receiver: OtlpReceiver
) -> Iterator[TracedStack]:
    ports = Ports.allocate()
    env = {
        **os.environ,
        **service_env(
            kafka_bootstrap,
            tmp_path,
            ports,
            SEXTANT_LOG_JSON="true",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_BSP_SCHEDULE_DELAY="100",  # ms between batch exports (default 5 s)
        ),
    }
    users = create_test_users(tmp_path)
    log: list[str] = []
    asyncio.run(publish_bars(kafka_bootstrap, bar_series(1, 60)))
    services = start_services([spec("datasets", ports.datasets)], env, sink=log.append)
    try:
        datasets = f"http://127.0.0.1:{ports.datasets}"
        wait_for(
            lambda: SYMBOL in httpx.get(f"{datasets}/v1/instruments", timeout=5).text,
            60,
            f"{SYMBOL}'s bars stored",
        )
        services += start_services(
            [spec("quant", ports.quant), spec("gateway", ports.gateway)], env, sink=log.append
        )
        gateway_url = f"http://127.0.0.1:{ports.gateway}"
        yield TracedStack(
            ports,
            GatewayAuth(gateway_url, *users["researcher"]),
            GatewayAuth(gateway_url, *users["admin"]),
            log,
        )
    finally:
        stop_services(services)


def test_a_backtest_is_one_trace_from_the_gateway_to_its_job_events(
    traced_stack: TracedStack, receiver: OtlpReceiver
) -> None:
    """The trace, the request's log lines in two services, and what each hop's ``/metrics``
    counted: the request by route template, the records produced and consumed with the
    consumer's lag, the job's duration, the datasets cache's lookups."""
    request_id = f"trace-test-{uuid.uuid4().hex[:8]}"
    stack = traced_stack
    with httpx.Client(base_url=stack.url("gateway"), auth=stack.auth, timeout=30) as http:
        queued = http.post(
            "/api/v1/backtests",
            json={"symbol": SYMBOL, "strategy": "BH"},
            headers={"x-request-id": request_id},
        )
        assert queued.status_code == 202, queued.text
        assert queued.headers["x-request-id"] == request_id
        job_id = queued.json()["job_id"]

        def finished() -> str | None:
            status: str = http.get(f"/api/v1/backtests/{job_id}").json()["status"]
            return status if status in ("succeeded", "failed") else None

        final = wait_for(finished, 60, "the backtest finished")

    # the request's lines in both services: same request id, user and trace id
    accessed = {
        service: [
            line
            for line in stack.lines(service)
            if line.get("request_id") == request_id and line["logger"] == "sextant.access"
        ]
        for service in ("gateway", "quant")
    }
    (gateway_access,) = accessed["gateway"]
    (quant_access,) = accessed["quant"]
    assert gateway_access["route"] == "/api/v1/backtests" and gateway_access["status"] == 202
    assert quant_access["route"] == "/v1/backtests" and quant_access["status"] == 202
    assert gateway_access["user"] == quant_access["user"] == "test-researcher"
    assert gateway_access["service"] == "gateway" and quant_access["service"] == "quant"
    trace_id = gateway_access["trace_id"]
    assert quant_access["trace_id"] == trace_id

    def linked() -> list[ReceivedSpan] | None:
        spans = receiver.trace(trace_id)
        kinds = {(s.service, s.kind, s.name) for s in spans}
        done = (
            "sextant-quant",
            "SPAN_KIND_CONSUMER",
            f"process {topics.JOBS_REQUESTS}",
        ) in kinds and sum(s.name == f"send {topics.JOBS_EVENTS}" for s in spans) >= 3
        datasets = sum(s.service == "sextant-datasets" for s in spans)
        return spans if done and datasets >= 2 else None

    spans = wait_for(linked, 30, "the job's spans exported")
    by_id = {span.span_id: span for span in spans}

    def one(service: str, kind: str, name: str) -> ReceivedSpan:
        (span,) = [s for s in spans if (s.service, s.kind, s.name) == (service, kind, name)]
        return span

    gateway = one("sextant-gateway", "SPAN_KIND_SERVER", "POST /api/v1/backtests")
    quant = one("sextant-quant", "SPAN_KIND_SERVER", "POST /v1/backtests")
    submitted = one("sextant-quant", "SPAN_KIND_PRODUCER", f"send {topics.JOBS_REQUESTS}")
    runner = one("sextant-quant", "SPAN_KIND_CONSUMER", f"process {topics.JOBS_REQUESTS}")
    assert gateway.parent_id == ""  # the caller sent no traceparent: the trace starts here
    assert by_id[quant.parent_id] is gateway
    assert by_id[submitted.parent_id] is quant
    assert by_id[runner.parent_id] is submitted
    assert runner.attributes["messaging.consumer.group.name"]
    events = [
        s
        for s in spans
        if s.kind == "SPAN_KIND_PRODUCER" and s.name == f"send {topics.JOBS_EVENTS}"
    ]
    queued_event = [s for s in events if s.parent_id == quant.span_id]
    job_events = [s for s in events if s.parent_id == runner.span_id]
    assert len(queued_event) == 1  # published with the request, by the HTTP handler
    assert len(job_events) >= 2  # running ... succeeded|failed, by the job runner
    # the quant service's calls to the datasets service join the trace too: the symbol check
    # in the request, the bars the job reads
    reads = [s for s in spans if (s.service, s.kind) == ("sextant-datasets", "SPAN_KIND_SERVER")]
    assert {s.parent_id for s in reads} == {quant.span_id, runner.span_id}
    assert quant.attributes["http.route"] == "/v1/backtests"
    assert quant.attributes["http.response.status_code"] == 202

    # what each hop counted: the request by route template, the bus records, the job, the cache
    def samples(service: str, name: str, **labels: str) -> list[float]:
        """The values of ``name``'s samples in ``service`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return [
            value
            for (sample, sample_labels), value in stack.metrics(service).items()
            if sample == name and wanted <= sample_labels
        ]

    route = {"method": "POST", "route": "/api/v1/backtests", "status": "202"}
    assert samples("gateway", "sextant_http_requests_total", **route) == [1.0]
    group = {"topic": topics.JOBS_REQUESTS, "group": "quant-jobs"}
    assert samples("quant", "sextant_events_consumed_total", **group) == [1.0]
    assert samples("quant", "sextant_consumer_lag_records", **group) == [0.0]  # its partition
    (produced,) = samples("quant", "sextant_events_produced_total", topic=topics.JOBS_EVENTS)
    assert produced >= 3  # queued, running, final
    job = {"kind": "backtest", "status": final}
    assert samples("quant", "sextant_job_duration_seconds_count", **job) == [1.0]
    cache = {"cache": "datasets_responses", "result": "miss"}
    assert sum(samples("datasets", "sextant_cache_requests_total", **cache)) >= 1
