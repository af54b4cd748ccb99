"""Per-request telemetry of every service's HTTP app: request id, server span, access line,
request count and latency.

For each HTTP request, :class:`RequestTelemetry`:

- takes its ``X-Request-ID`` if sane (1 to 128 characters of ``[A-Za-z0-9._:-]``), else makes
  one, puts it in :data:`~sextant_common.request_context.REQUEST_ID` and returns it on the
  response, errors included (a 404, a 401 answered by another middleware, a 500 of an exception);
- takes the user from ``X-Sextant-User`` (set by the gateway's relay) unless the service faces
  callers directly (the gateway, which knows the user from a verified token instead);
- writes one line on logger ``sextant.access``: method, path (never the query string, which may
  hold a token), route template, status, latency_ms (request id, user, trace id and service come
  with every line, :mod:`sextant_common.logging_setup`). Probes and scrapes (``/health``,
  ``/ready``, ``/metrics``) log at debug level, other requests at info, 5xx at error;
- counts ``sextant_http_requests_total{method,route,status}`` and observes
  ``sextant_http_request_duration_seconds{method,route}``, where route is the matched route's
  template (``/v1/backtests/{job_id}``) or ``<unmatched>``, never the raw path, so the series stay
  few whatever callers send.

It also runs the request in a SERVER span (:mod:`sextant_common.tracing`) that continues an
incoming ``traceparent``, is named after the route template (``GET /v1/backtests/{job_id}``) and
is current while the request is served: every line carries its trace id, every call onward
(:func:`~sextant_common.request_context.outgoing_headers`) and every publish is its child.

Pure ASGI rather than Starlette's ``BaseHTTPMiddleware``: no task and no body stream per request.
WebSocket and lifespan scopes pass through untouched.
"""

from __future__ import annotations

import logging
import os
import re
import time

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter, Histogram
from starlette.routing import Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sextant_common import request_context, tracecontext, tracing

ACCESS_LOG = logging.getLogger("sextant.access")
UNMATCHED = "<unmatched>"
QUIET_ROUTES = frozenset({"/health", "/ready", "/metrics"})
"""Routes polled by orchestrators and Prometheus: their access lines are debug-level."""
EDGE_SERVICES = frozenset({"gateway"})
"""Services callers reach directly: they never take a caller's ``X-Sextant-User``."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
"""Methods that label metrics as themselves; any other is ``OTHER`` (bounded series)."""
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
"""Histogram bounds (seconds): fine below 10 ms, where the gateway's p95 goal (5 ms) lies."""

REQUESTS = Counter(
    "sextant_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
DURATION = Histogram(
    "sextant_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer",
    ["method", "route"],
    buckets=LATENCY_BUCKETS_S,
)

_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")
_REQUEST_ID = request_context.REQUEST_ID_HEADER.encode()
_USER = request_context.USER_HEADER.encode()
_TRACEPARENT = tracecontext.HEADER.encode()
_SERVER_ERROR = b"Internal Server Error"


def route_of(scope: Scope) -> str:
    """The template of the route that handled ``scope`` (after the app ran), else
    :data:`UNMATCHED`."""
    route = scope.get("route")
    if isinstance(route, Mount):
        return f"{route.path}/{{path}}"
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class RequestTelemetry:
    """The middleware (see the module docstring) of ``service``'s app."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self._trust_user_header = service not in EDGE_SERVICES
        # label children by their labels: the hot path does no label lookup work
        self._requests: dict[tuple[str, str, int], Counter] = {}
        self._durations: dict[tuple[str, str], Histogram] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sent_id = user = traceparent = None
        for name, value in scope["headers"]:
            if name == _REQUEST_ID:
                sent_id = value
            elif name == _TRACEPARENT:
                traceparent = value
            elif name == _USER and self._trust_user_header:
                user = value.decode("latin-1")
        if sent_id is not None and _SANE_REQUEST_ID.fullmatch(sent_id):
            request_id = sent_id.decode("ascii")
        else:
            request_id = os.urandom(16).hex()
        id_header = (_REQUEST_ID, request_id.encode("ascii"))
        span = tracing.tracer().start_span(
            scope["method"], context=tracecontext.extract(traceparent), kind=SpanKind.SERVER
        )
        tokens = (
            request_context.REQUEST_ID.set(request_id),
            request_context.USER.set(user),
            otel_context.attach(trace.set_span_in_context(span)),
        )
        status = 500  # unless the app answers
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                status, answered = message["status"], True
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as exc:
            span.record_exception(exc)
            if not answered and isinstance(exc, Exception):
                await _server_error(send, id_header)  # Starlette's own would lack the id
            self._record(scope, span, status, time.perf_counter() - started)
            # The context stays: the server logs the exception next, in this request's task.
            raise
        self._record(scope, span, status, time.perf_counter() - started)
        otel_context.detach(tokens[2])
        request_context.USER.reset(tokens[1])
        request_context.REQUEST_ID.reset(tokens[0])

    def _record(self, scope: Scope, span: trace.Span, status: int, elapsed: float) -> None:
        """End the request's ``span``, count the request and write its access line (in its
        context)."""
        method: str = scope["method"]
        route = route_of(scope)
        if span.is_recording():  # only when spans are exported
            span.update_name(f"{method} {route}")
            span.set_attributes(
                {
                    "http.request.method": method,
                    "url.path": scope["path"],
                    "http.route": route,
                    "http.response.status_code": status,
                }
            )
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
        span.end()
        label = method if method in METHODS else "OTHER"
        counter = self._requests.get((label, route, status))
        if counter is None:
            counter = self._requests[(label, route, status)] = REQUESTS.labels(
                label, route, str(status)
            )
        counter.inc()
        duration = self._durations.get((label, route))
        if duration is None:
            duration = self._durations[(label, route)] = DURATION.labels(label, route)
        duration.observe(elapsed)
        if status >= 500:
            level = logging.ERROR
        elif route in QUIET_ROUTES:
            level = logging.DEBUG
        else:
            level = logging.INFO
        if ACCESS_LOG.isEnabledFor(level):
            path = scope["path"]
            ACCESS_LOG.log(
                level,
                "%s %s %d",
                method,
                path,
                status,
                extra={
                    "method": method,
                    "path": path,
                    "route": route,
                    "status": status,
                    "latency_ms": round(elapsed * 1000, 3),
                },
            )


async def _server_error(send: Send, id_header: tuple[bytes, bytes]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(_SERVER_ERROR)).encode()),
                id_header,
            ],
        }
    )
    await send({"type": "http.response.body", "body": _SERVER_ERROR})
