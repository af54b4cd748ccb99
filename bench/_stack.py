"""Shared by the bench scripts: a broker plus Sextant services on free ports, torn down on exit."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sextant_common.broker_launcher import start_broker  # noqa: E402
from sextant_common.devstack import start_services, stop_services  # noqa: E402
from tests.support import Ports, service_env, spec  # noqa: E402


@contextmanager
def running_stack(names: Iterable[str], **extra_env: str) -> Iterator[Ports]:
    """Start a broker and the ``names`` services (extra settings in ``extra_env``); yield the ports.

    The services write to a temporary data directory; services and broker are stopped on exit.
    """
    broker = start_broker()
    ports = Ports.allocate()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, **service_env(broker.bootstrap, Path(tmp), ports, **extra_env)}
        services = start_services(
            [spec(name, getattr(ports, name)) for name in names],
            env,
            sink=lambda _line: None,
        )
        try:
            yield ports
        finally:
            stop_services(services)
            broker.stop()
