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
from tests.support import (  # noqa: E402
    Ports,
    create_test_users,
    register_gateway,
    service_env,
    spec,
)


@contextmanager
def running_stack(names: Iterable[str], **extra_env: str) -> Iterator[Ports]:
    """Start a broker and the ``names`` services (extra settings in ``extra_env``); yield the ports.

    The services write to a temporary data directory; services and broker are stopped on exit.
    With a gateway, test users exist (``tests.support.auth_for(gateway_url, role)`` signs in).
    """
    broker = start_broker()
    ports = Ports.allocate()
    names = list(names)
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, **service_env(broker.bootstrap, Path(tmp), ports, **extra_env)}
        if "gateway" in names:
            users = create_test_users(Path(env["SEXTANT_DATA_DIR"]))
            register_gateway(f"http://127.0.0.1:{ports.gateway}", users)
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
