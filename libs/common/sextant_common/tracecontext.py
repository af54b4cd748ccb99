"""W3C trace context (``traceparent``) carried in bus record headers.

A publish continues the trace of the current task (:func:`use`, set by whoever handles a request
or consumes a record that carried one) or starts a new one. Each publish is a new span of that
trace. Format: ``00-<32 hex trace id>-<16 hex span id>-01``
(https://www.w3.org/TR/trace-context/#traceparent-header). When OpenTelemetry is wired in, its
propagator writes the same header.
"""

from __future__ import annotations

import contextvars
import re
import secrets
from collections.abc import Iterable

HEADER = "traceparent"

_FORMAT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("traceparent", default=None)


def parse(value: str | bytes | None) -> str | None:
    """The trace id of a valid ``traceparent`` value, else None (all-zero ids are invalid)."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    match = _FORMAT.match(text or "")
    if match is None or set(match[1]) == {"0"} or set(match[2]) == {"0"}:
        return None
    return match[1]


def use(traceparent: str | bytes | None) -> None:
    """Make ``traceparent`` (if valid) the parent of what this task publishes next."""
    trace_id = parse(traceparent)
    _CURRENT.set(None if trace_id is None else f"00-{trace_id}-{secrets.token_hex(8)}-01")


def from_headers(headers: Iterable[tuple[str, bytes]] | None) -> str | None:
    """The ``traceparent`` header's value among record ``headers``, if any."""
    for name, value in headers or ():
        if name == HEADER:
            return value.decode("ascii", "replace")
    return None


def child() -> bytes:
    """A ``traceparent`` for one publish: the current trace with a new span id, or a new trace."""
    trace_id = parse(_CURRENT.get()) or secrets.token_hex(16)
    return f"00-{trace_id}-{secrets.token_hex(8)}-01".encode()
