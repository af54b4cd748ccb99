"""OpenTelemetry traces of a Sextant process: its tracer provider and the spans of its hops.

One :class:`~opentelemetry.sdk.trace.TracerProvider` per process, with the resource
``service.name=sextant-<service>`` (:func:`configure`, called by
:func:`sextant_common.telemetry.add_health_and_metrics`). Spans are exported over OTLP/HTTP
(batched) when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``SEXTANT_OTLP_ENDPOINT`` names a collector
(``http://host:4318``; ``/v1/traces`` is appended); without one they are not recorded but
still have ids, so log lines carry trace ids and bus records their parent.

The spans of one request: a SERVER span per HTTP request (the request telemetry middleware,
continuing an incoming ``traceparent``), a PRODUCER span per topic of each publish
(:class:`ProducerSpans`; its ``traceparent`` travels in the records' headers) and a CONSUMER
span per record handled (:func:`consumer_span`, child of the span that published the record).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from types import TracebackType
from typing import Self

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON
from opentelemetry.trace import SpanKind, Status, StatusCode
from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from sextant_common import tracecontext

UNNAMED = "process"
"""The service name of spans made before :func:`configure` (tests building pieces alone)."""
MESSAGING_SYSTEM = "kafka"


class TracingSettings(BaseSettings):
    """Where spans go: an OTLP/HTTP collector's base URL, or nowhere."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("SEXTANT_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
    """Base URL of an OTLP/HTTP receiver (e.g. ``http://otel-collector:4318``); unset: no export."""


class _Process:
    """The process's provider and tracer (replaced as a whole by :func:`configure`)."""

    lock = threading.Lock()
    service: str | None = None
    provider: TracerProvider | None = None
    tracer: trace.Tracer | None = None


def configure(service: str, exporter: SpanExporter | None = None) -> TracerProvider:
    """Make ``sextant-<service>`` the process's tracer provider, its spans batched to
    ``exporter`` (default: OTLP/HTTP to :class:`TracingSettings`' endpoint when one is set).

    With nowhere to send them, spans are not recorded (sampler off: a span is then only its ids,
    a few microseconds) but still give trace ids to log lines and ``traceparent`` headers. A
    process that exports records every span, whatever the flags of the ``traceparent`` it
    continues. Calling it again for the same service without an exporter returns the provider in
    place; otherwise the new provider replaces the old (tests building several apps).

    The provider is not made OpenTelemetry's global one on purpose: FastAPI's native telemetry
    would then add its own server span and three operation spans to every request, doubling the
    in-process cost of a request (measured) for spans that say little more than ours."""
    if exporter is None and (endpoint := TracingSettings().otlp_endpoint):
        exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")
    with _Process.lock:
        if _Process.provider is not None and _Process.service == service and exporter is None:
            return _Process.provider
        provider = TracerProvider(
            resource=Resource.create({SERVICE_NAME: f"sextant-{service}"}),
            sampler=ALWAYS_ON if exporter is not None else ALWAYS_OFF,
        )
        if exporter is not None:
            provider.add_span_processor(BatchSpanProcessor(exporter))
        previous = _Process.provider
        _Process.service, _Process.provider = service, provider
        _Process.tracer = provider.get_tracer("sextant")
    if previous is not None:
        previous.shutdown()
    return provider


def tracer() -> trace.Tracer:
    """The process's tracer (a provider without export is made on first use if
    :func:`configure` was not called)."""
    if _Process.tracer is None:
        configure(UNNAMED)
    assert _Process.tracer is not None
    return _Process.tracer


@contextlib.contextmanager
def consumer_span(
    topic: str, traceparent: str | bytes | None, group: str, *, offset: int | None = None
) -> Iterator[trace.Span]:
    """A CONSUMER span, current for the block, for handling one record of ``topic`` (``group``:
    the consumer group or name); the child of the span that published it (``traceparent``, from
    the record's headers), or a new trace when the record carries none. An exception leaving the
    block is recorded on the span, which then reports an error."""
    attributes: dict[str, str | int] = {
        "messaging.system": MESSAGING_SYSTEM,
        "messaging.operation.type": "process",
        "messaging.destination.name": topic,
        "messaging.consumer.group.name": group,
    }
    if offset is not None:
        attributes["messaging.kafka.offset"] = offset
    with tracer().start_as_current_span(
        f"process {topic}",
        context=tracecontext.extract(traceparent),
        kind=SpanKind.CONSUMER,
        attributes=attributes,
    ) as span:
        yield span


class ProducerSpans:
    """The PRODUCER spans of one publish: one per topic, children of the current span, ended
    on exit (with an error status if the publish failed).

    Use as ``with ProducerSpans() as spans:`` and give each record
    ``spans.traceparent(topic)`` as its ``traceparent`` header.
    """

    def __init__(self) -> None:
        self._spans: dict[str, tuple[trace.Span, bytes]] = {}

    def traceparent(self, topic: str) -> bytes:
        """The ``traceparent`` header of a record of ``topic`` (its span started on first use)."""
        entry = self._spans.get(topic)
        if entry is None:
            span = tracer().start_span(
                f"send {topic}",
                kind=SpanKind.PRODUCER,
                attributes={
                    "messaging.system": MESSAGING_SYSTEM,
                    "messaging.operation.type": "send",
                    "messaging.destination.name": topic,
                },
            )
            header = tracecontext.of_span(span)
            assert header is not None  # the SDK's spans, recorded or not, have valid ids
            entry = self._spans[topic] = (span, header.encode())
        return entry[1]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for span, _ in self._spans.values():
            if exc is not None:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            span.end()
