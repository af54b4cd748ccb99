"""Run several services as child OS processes: start, wait for health, relay logs, stop.

Used by `make run` (scripts/run_stack.py) and by the integration tests. Children die with their
parent (PR_SET_PDEATHSIG on Linux), so even a kill -9 of the runner leaves no orphans.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO

import httpx

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """``preexec_fn`` for Popen: the child gets SIGTERM when the parent process dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True)
class ServiceSpec:
    """How to start one service and how to know it is up."""

    name: str
    argv: Sequence[str]
    health_url: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)


class ServiceProcess:
    """A running child process with its output relayed line by line, prefixed by its name."""

    def __init__(
        self, spec: ServiceSpec, base_env: Mapping[str, str], sink: Callable[[str], None]
    ) -> None:
        self.spec = spec
        self.process = subprocess.Popen(
            list(spec.argv),
            env={**base_env, **spec.env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
            start_new_session=True,  # Ctrl-C reaches the runner only; it stops us in order
        )
        self._relay = threading.Thread(
            target=_relay_lines, args=(self.process.stdout, spec.name, sink), daemon=True
        )
        self._relay.start()

    def wait_healthy(self, timeout_s: float) -> None:
        """Block until the health URL answers 200; raise if the process exits or time runs out."""
        if self.spec.health_url is None:
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.spec.name} exited with status {self.process.returncode} during start"
                )
            try:
                if httpx.get(self.spec.health_url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(
            f"{self.spec.name} not healthy at {self.spec.health_url} in {timeout_s}s"
        )

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM, wait, then SIGKILL if it does not exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._relay.join(timeout=2.0)

    def kill(self) -> None:
        """SIGKILL now (crash simulation)."""
        self.process.kill()
        self.process.wait()


def _relay_lines(stream: IO[bytes] | None, name: str, sink: Callable[[str], None]) -> None:
    if stream is None:
        return
    for raw in iter(stream.readline, b""):
        sink(f"[{name}] {raw.decode(errors='replace').rstrip()}")


def start_services(
    specs: Sequence[ServiceSpec],
    base_env: Mapping[str, str] | None = None,
    *,
    sink: Callable[[str], None] = print,
    health_timeout_s: float = 60.0,
) -> list[ServiceProcess]:
    """Start ``specs`` in order, each healthy before the next; stop all on a failed start."""
    env = dict(os.environ if base_env is None else base_env)
    started: list[ServiceProcess] = []
    try:
        for spec in specs:
            service = ServiceProcess(spec, env, sink)
            started.append(service)
            service.wait_healthy(health_timeout_s)
    except BaseException:
        stop_services(started)
        raise
    return started


def stop_services(services: Sequence[ServiceProcess]) -> None:
    """Stop services in reverse start order."""
    for service in reversed(services):
        service.stop()
