"""Spans of one trace across hops: the server span of a request continues the caller's
``traceparent`` and names itself in the calls it makes; a publish makes a producer span per topic
whose id travels in the records; handling a record makes a consumer span, child of that one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from sextant_common import request_context, topics, tracecontext, tracing
from sextant_common.bus import ensure_topics
from sextant_common.events import JobEvent, JobStatus
from sextant_common.producer import EventProducer
from sextant_common.settings import CommonSettings
from sextant_common.telemetry import add_health_and_metrics
from tests.support import make_bar

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
CALLER = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"


@dataclass
class Exported:
    """The process's tracer provider (service ``things``) and the spans it exported."""

    provider: TracerProvider
    exporter: InMemorySpanExporter

    def finished(self) -> list[ReadableSpan]:
        """The spans ended so far (the batch processor flushed)."""
        assert self.provider.force_flush()
        return list(self.exporter.get_finished_spans())


@pytest.fixture
def exported() -> Iterator[Exported]:
    exporter = InMemorySpanExporter()
    try:
        yield Exported(tracing.configure("things", exporter), exporter)
    finally:
        tracing.configure(tracing.UNNAMED)  # back to a provider that records nothing


def hex_id(value: int, digits: int) -> str:
    return format(value, f"0{digits}x")


async def test_the_server_span_continues_the_callers_trace_and_is_the_parent_of_calls_onward(
    exported: Exported,
) -> None:
    app = FastAPI()

    @app.get("/v1/things/{thing_id}")
    async def get_thing(thing_id: str) -> dict[str, str]:
        return request_context.outgoing_headers()

    add_health_and_metrics(app, "things", {})
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://things") as http:
        onward = (await http.get("/v1/things/7", headers={"traceparent": CALLER})).json()
        fresh = (await http.get("/v1/things/8")).json()

    spans = exported.finished()
    first, second = spans
    assert not any(span.instrumentation_scope.name == "fastapi" for span in spans)
    assert first.kind is SpanKind.SERVER and first.name == "GET /v1/things/{thing_id}"
    assert first.resource.attributes["service.name"] == "sextant-things"
    assert first.attributes is not None
    assert first.attributes["http.route"] == "/v1/things/{thing_id}"
    assert first.attributes["http.response.status_code"] == 200
    assert first.parent is not None and hex_id(first.parent.span_id, 16) == CALLER_SPAN
    assert hex_id(first.context.trace_id, 32) == CALLER_TRACE
    # the call onward names the server span as its parent
    assert onward["traceparent"] == f"00-{CALLER_TRACE}-{hex_id(first.context.span_id, 16)}-01"
    # no traceparent: a new trace, a root span
    assert second.parent is None and hex_id(second.context.trace_id, 32) != CALLER_TRACE
    assert tracecontext.parse(fresh["traceparent"]) == hex_id(second.context.trace_id, 32)


def test_without_an_exporter_spans_are_not_recorded_but_the_trace_goes_on() -> None:
    tracing.configure("quiet")
    tracecontext.use(CALLER)
    try:
        with tracing.ProducerSpans() as spans:
            header = spans.traceparent(topics.JOBS_EVENTS).decode()
        assert tracecontext.parse(header) == CALLER_TRACE
        assert header.endswith("-00")  # not recorded (sampled flag off)
        with tracing.consumer_span(topics.JOBS_EVENTS, header, "g") as span:
            assert not span.is_recording()
            assert tracecontext.current_trace_id() == CALLER_TRACE
    finally:
        tracecontext.use(None)
        tracing.configure(tracing.UNNAMED)


@pytest.mark.integration
async def test_a_record_carries_its_producer_span_and_its_handling_is_a_consumer_span_child(
    kafka_bootstrap: str, exported: Exported
) -> None:
    await ensure_topics(CommonSettings(kafka_bootstrap=kafka_bootstrap))
    job = JobEvent(job_id="j1", kind="backtest", status=JobStatus.QUEUED, ts=datetime.now(UTC))
    tracecontext.use(CALLER)  # as if serving a request of that trace
    try:
        async with EventProducer(kafka_bootstrap) as producer:
            await producer.publish([make_bar("AAA", datetime(2020, 1, 2, tzinfo=UTC)), job])
            consumer = AIOKafkaConsumer(
                topics.JOBS_EVENTS, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest"
            )
            await consumer.start()
            try:
                record = await consumer.getone()
            finally:
                await consumer.stop()
            with tracing.consumer_span(
                record.topic, tracecontext.from_headers(record.headers), "readers", offset=0
            ):
                await producer.publish([job])  # what handling the record publishes
    finally:
        tracecontext.use(None)

    spans = exported.finished()
    by_name = {span.name: span for span in spans if span.kind is not SpanKind.PRODUCER}
    sends = [span for span in spans if span.kind is SpanKind.PRODUCER]
    assert sorted(span.name for span in sends) == [
        f"send {topics.JOBS_EVENTS}",
        f"send {topics.JOBS_EVENTS}",
        f"send {topics.MD_BARS}",
    ]
    assert {hex_id(span.context.trace_id, 32) for span in spans} == {CALLER_TRACE}
    first_sends = [
        span for span in sends if span.parent and hex_id(span.parent.span_id, 16) == CALLER_SPAN
    ]
    assert len(first_sends) == 2  # one span per topic of the first publish, children of the caller
    (job_send,) = [span for span in first_sends if span.name.endswith(topics.JOBS_EVENTS)]
    header = tracecontext.from_headers(record.headers)
    assert header == f"00-{CALLER_TRACE}-{hex_id(job_send.context.span_id, 16)}-01"
    handled = by_name[f"process {topics.JOBS_EVENTS}"]
    assert handled.kind is SpanKind.CONSUMER and handled.attributes is not None
    assert handled.attributes["messaging.consumer.group.name"] == "readers"
    assert handled.parent is not None and handled.parent.span_id == job_send.context.span_id
    (reply,) = [span for span in sends if span not in first_sends]
    assert reply.parent is not None and reply.parent.span_id == handled.context.span_id
