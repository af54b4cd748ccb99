"""Fixtures shared by every test domain: a real tansu broker, service processes, a full stack."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from sextant_common.broker_launcher import free_port, start_broker, wait_for_port
from sextant_common.devstack import (
    ServiceProcess,
    StackUrls,
    start_services,
    stop_services,
    wait_until_queryable,
)
from tests.support import (
    GatewayAuth,
    Ports,
    auth_for,
    create_test_users,
    register_gateway,
    service_env,
    spec,
)


def _broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    broker = start_broker(log_file=tmp_path_factory.mktemp("broker") / "tansu.log")
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh real Kafka-wire broker (tansu, ~0.1 s to start) for one test, so tests that
    flood a topic never see each other's data."""
    yield from _broker(tmp_path_factory)


@dataclass
class Stack:
    """A running set of services under test."""

    bootstrap: str
    data_dir: Path
    ports: Ports
    services: list[ServiceProcess]
    log: list[str]
    users: dict[str, tuple[str, str]]
    """Role -> (username, password) of the test users (:func:`tests.support.create_test_users`)."""

    def credentials(self, role: str) -> tuple[str, str]:
        """Username and password of the test user with ``role``."""
        return self.users[role]

    def auth(self, role: str = "researcher") -> GatewayAuth:
        """httpx credentials of the test user with ``role`` at this stack's gateway."""
        return auth_for(self.gateway_url, role)

    @property
    def gateway_url(self) -> str:
        """Base URL of the gateway."""
        return f"http://127.0.0.1:{self.ports.gateway}"

    @property
    def datasets_url(self) -> str:
        """Base URL of the datasets service."""
        return f"http://127.0.0.1:{self.ports.datasets}"


def _urls(ports: Ports) -> StackUrls:
    return StackUrls(
        *(f"http://127.0.0.1:{p}" for p in (ports.ingest, ports.datasets, ports.gateway))
    )


@pytest.fixture(scope="session")
def full_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Broker + datasets + quant + gateway + ingest (shipped and simulated history, 1 s live bars),
    started once per session and shared by the end-to-end and browser tests; yielded once the
    published history is queryable through the gateway."""
    broker = _broker(tmp_path_factory)
    kafka_bootstrap = next(broker)
    data_dir = tmp_path_factory.mktemp("stack")
    ports = Ports.allocate()
    env = {
        **os.environ,
        **service_env(
            kafka_bootstrap,
            data_dir,
            ports,
            SEXTANT_INGEST_LIVE_INTERVAL="1s",
            SEXTANT_INGEST_HISTORY_DAYS="120",
            SEXTANT_DATASETS_GROUP=f"datasets-stack-{uuid.uuid4().hex[:6]}",
            # One test session runs far more jobs than a researcher's hour allows, and schemathesis
            # tries sign-ins with the user names it reads; the quotas themselves are tested on
            # gateways of their own (tests/gateway/test_auth_http.py).
            SEXTANT_QUOTAS='{"backtests": "100000/hour", "sweeps": "1000000000/hour", '
            '"fetch": "100000/hour", "login": "100000/15minutes"}',
        ),
    }
    log: list[str] = []
    users = create_test_users(data_dir)
    register_gateway(f"http://127.0.0.1:{ports.gateway}", users)
    try:
        services = start_services(
            [
                spec("datasets", ports.datasets),
                spec("quant", ports.quant),
                spec("gateway", ports.gateway),
                spec("ingest", ports.ingest),
            ],
            env,
            sink=log.append,
        )
        try:
            # Like `make run` before "Sextant is up": the published history is queryable.
            gateway = f"http://127.0.0.1:{ports.gateway}"
            wait_until_queryable(_urls(ports), 180, auth=auth_for(gateway, "viewer"))
            yield Stack(kafka_bootstrap, data_dir, ports, services, log, users)
        finally:
            stop_services(services)
    finally:
        broker.close()


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis: the one on 127.0.0.1:6379 when it answers, else ``redis-server`` on a free
    port. Skipped only when neither exists, and failed instead when ``CI`` is set."""
    if _answers("redis://127.0.0.1:6379/0"):
        yield "redis://127.0.0.1:6379/0"
        return
    binary = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
    )
    if binary is None:
        message = (
            "no Redis on 127.0.0.1:6379 and no redis-server binary (apt-get install redis-server)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--daemonize", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_port("127.0.0.1", port, 10), f"redis-server did not start on {port}"
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)
