"""`make run`: the whole Sextant stack on this machine, one OS process per service.

Starts the embedded Kafka-wire broker (tansu) unless SEXTANT_KAFKA_BOOTSTRAP points at one,
then datasets, quant, gateway and ingest; waits for each to be alive (``/health``), then for the
initial history to be queryable through the gateway before printing "Sextant is up", and relays
their logs prefixed by name. A service that crashes is restarted with exponential backoff while
the broker and the other services keep running; it resumes from its committed offsets. Ctrl-C
(SIGINT) or SIGTERM stops everything in reverse order.

Ports come from SEXTANT_{GATEWAY,DATASETS,QUANT,INGEST}_PORT (8000-8003 by default), so a second
stack can run next to the first.

Every API route needs a signed-in user. When the auth database has no user yet, a first admin
``admin`` is made with a random password printed once (there is no default password); change it
with ``sextant users passwd admin``, add users with ``sextant users create``.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from sextant_common.broker_launcher import start_broker
from sextant_common.devstack import (
    ServiceSpec,
    StackUrls,
    Supervisor,
    start_services,
    wait_until_queryable,
)
from sextant_common.settings import CommonSettings
from sextant_gateway.auth.policy import Role
from sextant_gateway.auth.service import Auth
from sextant_gateway.settings import GatewaySettings

ROOT = Path(__file__).resolve().parents[1]


class StackSettings(CommonSettings):
    """The ports the services listen on (each service reads its own; the runner needs all)."""

    gateway_port: int = 8000
    datasets_port: int = 8001
    quant_port: int = 8002
    ingest_port: int = 8003
    stack_ready_timeout_s: float = 300.0
    """How long `make run` waits for the initial history to be queryable before giving up."""

    def url(self, service: str) -> str:
        """Base URL of ``service`` on this machine."""
        port: int = getattr(self, f"{service}_port")
        return f"http://127.0.0.1:{port}"


class Interrupted(Exception):
    """Ctrl-C or SIGTERM arrived while waiting for the stack."""


SERVICES = ("datasets", "quant", "gateway", "ingest")
"""Start order: each one's dependencies come before it."""


def stack_specs(settings: StackSettings, python: str = sys.executable) -> list[ServiceSpec]:
    """The services of the embedded stack, in start order, with their liveness URLs."""
    return [
        ServiceSpec(name, [python, "-m", f"sextant_{name}"], f"{settings.url(name)}/health")
        for name in SERVICES
    ]


class Bearer(httpx.Auth):
    """Sends one access token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def prepare_auth(say: Callable[[str], None]) -> Bearer:
    """Make the first admin when there is no user (a random password, printed once) and return
    a short-lived viewer token for the readiness checks through the gateway."""
    auth = Auth(GatewaySettings())
    try:
        if auth.store.count_users() == 0:
            password = secrets.token_urlsafe(15)
            auth.create_user("admin", password, Role.admin)
            say(
                f"[run] first user: admin / {password}  (shown once; change it with "
                "`.venv/bin/sextant users passwd admin`)"
            )
        token, _ = auth.keys.issue("make-run-readiness", Role.viewer)
    finally:
        auth.close()
    return Bearer(token)


def main() -> int:
    """Run until interrupted; return the exit status."""
    settings = StackSettings()
    env = dict(os.environ)
    for name in ("datasets", "quant", "ingest"):  # where the gateway and quant find the others
        env.setdefault(f"SEXTANT_{name.upper()}_URL", settings.url(name))
    broker = None
    if not settings.kafka_bootstrap:
        broker = start_broker(log_file=settings.data_dir / "logs" / "broker.log")
        env["SEXTANT_KAFKA_BOOTSTRAP"] = broker.bootstrap
        print(f"[run] embedded tansu broker on {broker.bootstrap} (in-memory)", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    def say(line: str) -> None:
        print(line, flush=True)

    def supervise() -> None:
        if stop.is_set():
            raise Interrupted
        assert supervisor is not None
        supervisor.poll()

    started = time.monotonic()
    supervisor: Supervisor | None = None
    try:
        readiness = prepare_auth(say)
        supervisor = Supervisor(start_services(stack_specs(settings), env, sink=say), sink=say)
        urls = StackUrls(settings.url("ingest"), settings.url("datasets"), settings.url("gateway"))
        say(
            f"[run] services alive after {time.monotonic() - started:.1f}s; "
            "waiting for the initial history to be queryable ..."
        )
        checked = wait_until_queryable(
            urls, settings.stack_ready_timeout_s, meanwhile=supervise, auth=readiness
        )
        say(
            f"[run] Sextant is up: {urls.gateway}  ({len(checked)} instruments queryable, "
            f"{time.monotonic() - started:.1f}s; Ctrl-C to stop)"
        )
        while not stop.wait(0.2):
            supervisor.poll()
            if broker is not None and broker.process.poll() is not None:
                # In-memory: a new broker would have none of the topics' data or offsets.
                say(f"[run] the embedded broker exited ({broker.process.returncode}); stopping")
                return 1
        return 0
    except Interrupted:
        return 0
    except RuntimeError as exc:
        print(f"[run] error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        say("[run] stopping ...")
        if supervisor is not None:
            supervisor.stop()
        if broker is not None:
            broker.stop()
        say("[run] stopped")


if __name__ == "__main__":
    os.chdir(ROOT)
    raise SystemExit(main())
