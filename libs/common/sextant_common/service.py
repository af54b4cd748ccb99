"""Running a service process: logging, broker reachability check, uvicorn, clean exit codes."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from typing import Any

import uvicorn
from fastapi import FastAPI

from sextant_common.bus import BrokerUnreachable, ensure_topics
from sextant_common.logging_setup import configure_logging
from sextant_common.settings import CommonSettings

log = logging.getLogger(__name__)


def serve(
    settings: CommonSettings,
    build_app: Callable[[], FastAPI],
    *,
    host: str,
    port: int,
    **uvicorn_options: Any,
) -> None:
    """Check the broker, then serve ``build_app()`` with uvicorn until SIGINT/SIGTERM.

    ``uvicorn_options`` go to ``uvicorn.run`` (e.g. the gateway's WebSocket protocol and pings).

    Objects that exist before serving are frozen out of the cyclic garbage collector.

    A missing or unreachable broker ends the process with status 2 and one clear line naming
    the address, not a traceback. Every line the process prints goes through
    :func:`~sextant_common.logging_setup.configure_logging` (JSON by default), uvicorn's included.
    """
    configure_logging(settings.log_level, json=settings.log_json)
    try:
        asyncio.run(ensure_topics(settings))
    except (BrokerUnreachable, RuntimeError) as exc:
        log.error("error: %s", exc)  # one line (JSON when configured), no traceback
        raise SystemExit(2) from None
    app = build_app()
    # What is imported and built by now lives as long as the process: keep the cyclic GC's full
    # collections from walking it. A gen-2 pass over the quant service's import-time objects
    # stalled its event loop ~150 ms, the live analytics' p99 (bench/live_analytics.py).
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=5,
        **uvicorn_options,
    )
