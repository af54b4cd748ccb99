"""W3C trace context (``traceparent``) in HTTP and bus record headers, through OpenTelemetry.

One mechanism for every hop: OpenTelemetry's W3C propagator writes and reads the header, on an
HTTP call (:func:`sextant_common.request_context.outgoing_headers`) as on a bus record
(:class:`sextant_common.tracing.ProducerSpans`). Format: ``00-<32 hex trace id>-<16 hex span
id>-<2 hex flags>`` (https://www.w3.org/TR/trace-context/#traceparent-header). The spans
themselves are made in :mod:`sextant_common.tracing`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

HEADER = "traceparent"

_FORMAT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_PROPAGATOR = TraceContextTextMapPropagator()


def parse(value: str | bytes | None) -> str | None:
    """The trace id of a valid ``traceparent`` value, else None (all-zero ids are invalid)."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    match = _FORMAT.match(text or "")
    if match is None or set(match[1]) == {"0"} or set(match[2]) == {"0"}:
        return None
    return match[1]


def extract(traceparent: str | bytes | None) -> Context:
    """A context whose current span is the remote one ``traceparent`` names: the parent of the
    spans started in it. An empty context (spans start a new trace) when it is missing or
    invalid."""
    if traceparent is None:
        return Context()
    text = traceparent.decode("ascii", "replace") if isinstance(traceparent, bytes) else traceparent
    return _PROPAGATOR.extract({HEADER: text})


def of(context: Context | None = None) -> str | None:
    """The ``traceparent`` of ``context``'s span (the current one by default); None when there
    is no valid span."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=context)
    return carrier.get(HEADER)


def of_span(span: trace.Span) -> str | None:
    """The ``traceparent`` naming ``span`` (as the parent of what a remote receiver starts)."""
    return of(trace.set_span_in_context(span))


def current_trace_id() -> str | None:
    """The 32-hex trace id of the current span, None outside any span."""
    context = trace.get_current_span().get_span_context()
    return format(context.trace_id, "032x") if context.is_valid else None


def use(traceparent: str | bytes | None) -> None:
    """Continue ``traceparent``'s trace in the current task from now on: what it publishes or
    calls next is a child of that span (a new trace when it is missing or invalid)."""
    otel_context.attach(extract(traceparent))


def from_headers(headers: Iterable[tuple[str, bytes]] | None) -> str | None:
    """The ``traceparent`` header's value among record ``headers``, if any."""
    for name, value in headers or ():
        if name == HEADER:
            return value.decode("ascii", "replace")
    return None
