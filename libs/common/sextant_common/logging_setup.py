"""One-line JSON logs (or plain text for humans) for every Sextant process.

With JSON on, everything a service prints goes through one handler on the root logger, so every
line of its output parses as JSON: its own loggers, uvicorn's (``uvicorn``, ``uvicorn.error``,
``uvicorn.access``; their ANSI ``color_message`` extra is dropped), warnings
(``warnings.warn``, through ``logging.captureWarnings``) and an exception nobody caught, in the
main thread or another (one ``critical`` line with the traceback in ``exc``).

Every JSON line names the process's ``service`` (:func:`set_service`) and, when it is written
while a request is served, that request's ``request_id`` and ``user``
(:mod:`sextant_common.request_context`), and the ``trace_id`` of the current span (a request's,
or a bus record's being handled).
"""

from __future__ import annotations

import logging
import sys
import threading
from datetime import UTC, datetime
from types import TracebackType

import orjson

from sextant_common import request_context, tracecontext

UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
"""uvicorn's loggers; they keep no handler of their own and propagate to the root's."""

DROPPED_EXTRAS = frozenset({"color_message"})
"""Record attributes never logged: uvicorn's copy of the message with ANSI colour codes."""

log = logging.getLogger("sextant")

_service: str | None = None


def set_service(name: str) -> None:
    """Name the service every later JSON line of this process carries."""
    global _service
    _service = name


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object per line: time, level, service, logger, message,
    the request's id, user and trace id, extras."""

    _RESERVED = (
        frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"} | DROPPED_EXTRAS
    )

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": _service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if (request_id := request_context.REQUEST_ID.get()) is not None:
            payload["request_id"] = request_id
            payload["user"] = request_context.USER.get()
        if (trace_id := tracecontext.current_trace_id()) is not None:
            payload["trace_id"] = trace_id
        payload.update({k: v for k, v in record.__dict__.items() if k not in self._RESERVED})
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            payload["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(payload, default=str).decode()


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """Send all logs to stderr, as JSON lines unless ``json`` is False.

    Also routes warnings and uncaught exceptions through the logging system, and points
    uvicorn's loggers at the same handler (see the module docstring).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json else logging.Formatter("%(levelname)s %(name)s: %(message)s")
    )
    # No line prints its caller's file and line or its process: skip the stack walk and the
    # lookups every record would otherwise make (logging's documented optimizations).
    logging._srcfile = None
    logging.logProcesses = logging.logMultiprocessing = False
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    # httpx logs every call's URL at info: a relayed query string may carry a token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    logging.captureWarnings(True)
    sys.excepthook = log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def log_uncaught(
    exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
) -> None:
    """``sys.excepthook``: one ``critical`` record with the traceback, instead of a raw dump."""
    if issubclass(exc_type, KeyboardInterrupt):
        sys.__excepthook__(exc_type, exc, tb)
        return
    log.critical("uncaught exception: %s: %s", exc_type.__name__, exc, exc_info=(exc_type, exc, tb))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None or issubclass(args.exc_type, SystemExit):
        return
    thread = args.thread.name if args.thread is not None else "?"
    log.critical(
        "uncaught exception in thread %s: %s: %s",
        thread,
        args.exc_type.__name__,
        args.exc_value,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )
