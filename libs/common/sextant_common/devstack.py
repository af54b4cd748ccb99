"""Run several services as child OS processes: start, wait for health, relay logs, supervise, stop.

Used by `make run` (scripts/run_stack.py) and by the integration tests. Children die with their
parent (PR_SET_PDEATHSIG on Linux), so even a kill -9 of the runner leaves no orphans.

A :class:`Supervisor` restarts a crashed service with exponential backoff while the others (and
the broker) keep running: a consumer resumes from its committed offsets, so nothing published
while it was down is lost. :func:`wait_until_queryable` is what "Sextant is up" means: the history
ingest published is durable in the lake and answered through the gateway.
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
from typing import IO, Any

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
        self._env = {**base_env, **spec.env}
        self._sink = sink
        self.started_at = 0.0
        """``time.monotonic()`` when the current process started."""
        self.process, self._relay = self._spawn()

    def _spawn(self) -> tuple[subprocess.Popen[bytes], threading.Thread]:
        # PR_SET_PDEATHSIG fires when the *thread* that forked the child exits: (re)start children
        # only from a thread that lives as long as the stack (the runner's main thread).
        process = subprocess.Popen(
            list(self.spec.argv),
            env=self._env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
            start_new_session=True,  # Ctrl-C reaches the runner only; it stops us in order
        )
        self.started_at = time.monotonic()
        relay = threading.Thread(
            target=_relay_lines, args=(process.stdout, self.spec.name, self._sink), daemon=True
        )
        relay.start()
        return process, relay

    def restart(self) -> None:
        """Start the service again with the same command and environment (after it exited)."""
        if self.process.poll() is None:
            raise RuntimeError(f"{self.spec.name} is still running (pid {self.process.pid})")
        self._relay.join(timeout=2.0)
        self.process, self._relay = self._spawn()

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


@dataclass(frozen=True)
class Backoff:
    """Delay before restart number ``attempt`` (1-based): ``initial_s`` doubling up to ``max_s``.

    A service that stayed up at least ``reset_after_s`` before crashing starts again from
    ``initial_s``: it was healthy, this is a new incident, not a crash loop.
    """

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    reset_after_s: float = 60.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart ``attempt``."""
        if attempt < 1:
            raise ValueError(f"attempt counts from 1, got {attempt}")
        return float(min(self.max_s, self.initial_s * self.factor ** (attempt - 1)))


def describe_exit(returncode: int) -> str:
    """``exit code 3`` or ``signal SIGKILL`` (Popen reports death by signal N as -N)."""
    if returncode < 0:
        try:
            return f"signal {signal.Signals(-returncode).name}"
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"


@dataclass
class _Restart:
    attempt: int
    due: float


class Supervisor:
    """Keeps started services running: a service that exits is restarted after a backoff delay,
    the others keep running; :meth:`stop` stops all of them in reverse start order.

    Drive it with :meth:`poll` (one step, for tests with a fake clock) or :meth:`run` (until an
    event is set). Every crash and restart is logged to ``sink``.
    """

    def __init__(
        self,
        services: Sequence[ServiceProcess],
        *,
        backoff: Backoff | None = None,
        sink: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.services = list(services)
        self.backoff = backoff or Backoff()
        self._sink = sink
        self._clock = clock
        self._attempts: dict[str, int] = {}
        """Consecutive quick crashes per service (reset once it stays up ``reset_after_s``)."""
        self._pending: dict[str, _Restart] = {}
        self._started_at = {service.spec.name: service.started_at for service in self.services}
        """Latest start per service, on ``clock`` (which must count like ``time.monotonic``)."""
        self.restarts: dict[str, int] = {}
        """Restarts done per service since the supervisor started."""
        self._lock = threading.Lock()
        self._stopped = False

    def poll(self) -> None:
        """Notice exited services and schedule their restart; restart those whose delay is over."""
        with self._lock:
            if self._stopped:
                return
            now = self._clock()
            for service in self.services:
                name = service.spec.name
                pending = self._pending.get(name)
                if pending is None:
                    returncode = service.process.poll()
                    if returncode is not None:
                        self._schedule(service, returncode, now)
                elif now >= pending.due:
                    del self._pending[name]
                    service.restart()
                    self._started_at[name] = now
                    self.restarts[name] = self.restarts.get(name, 0) + 1
                    self._sink(
                        f"[supervisor] {name} restarted (attempt {pending.attempt}, "
                        f"pid {service.process.pid})"
                    )

    def _schedule(self, service: ServiceProcess, returncode: int, now: float) -> None:
        name = service.spec.name
        uptime = now - self._started_at[name]
        attempt = 1 if uptime >= self.backoff.reset_after_s else self._attempts.get(name, 0) + 1
        self._attempts[name] = attempt
        delay = self.backoff.delay(attempt)
        self._pending[name] = _Restart(attempt, now + delay)
        self._sink(
            f"[supervisor] {name} (pid {service.process.pid}) died: {describe_exit(returncode)} "
            f"after {uptime:.1f}s up; restart attempt {attempt} in {delay:g}s"
        )

    def run(self, stop: threading.Event, every_s: float = 0.2) -> None:
        """Poll every ``every_s`` until ``stop`` is set. Run it in a thread that outlives the
        services (see :meth:`ServiceProcess._spawn`), normally the main thread."""
        while not stop.wait(every_s):
            self.poll()

    def stop(self) -> None:
        """Stop supervising and stop every service in reverse start order (idempotent)."""
        with self._lock:
            self._stopped = True
            self._pending.clear()
        stop_services(self.services)


@dataclass(frozen=True)
class StackUrls:
    """Base URLs of the services :func:`wait_until_queryable` asks."""

    ingest: str
    datasets: str
    gateway: str


def wait_until_queryable(
    urls: StackUrls,
    timeout_s: float = 300.0,
    *,
    every_s: float = 0.25,
    meanwhile: Callable[[], None] = lambda: None,
    auth: httpx.Auth | None = None,
) -> list[str]:
    """Block until the initial history is queryable through the gateway; return the instruments
    checked. Raises ``RuntimeError`` saying what was still missing after ``timeout_s``.

    Nothing here names a symbol: ingest's ``/ready`` reports the instruments it published and the
    topic's end offsets once its history is acknowledged; datasets' ``/ready`` reports the offsets
    its consumer group committed (only after fsync); once those reach ingest's, every published
    bar is in the lake and each published instrument the lake lists must answer 200 through the
    gateway's ``/api/v1/bars``. ``meanwhile`` runs between polls (e.g. ``Supervisor.poll``);
    ``auth`` authenticates the calls to the gateway (a viewer's bearer token).
    """
    deadline = time.monotonic() + timeout_s
    waiting = "ingest /ready"
    with httpx.Client(timeout=5.0, auth=auth) as client:

        def ready_detail(base: str, check: str) -> dict[str, Any] | None:
            try:
                response = client.get(f"{base}/ready")
            except httpx.HTTPError:
                return None
            if response.status_code != 200:
                return None
            detail: dict[str, Any] = response.json()["detail"].get(check, {})
            return detail

        while time.monotonic() < deadline:
            meanwhile()
            published = ready_detail(urls.ingest, "history_published")
            if published is None:
                time.sleep(every_s)
                continue
            target = {int(p): int(o) for p, o in published["end_offsets"].items()}
            waiting = f"datasets to commit md.bars.v1 up to {target}"
            lake = ready_detail(urls.datasets, "lake_caught_up")
            committed = {int(p): int(o) for p, o in (lake or {}).get("committed", {}).items()}
            if lake is None or any(committed.get(p, 0) < end for p, end in target.items()):
                time.sleep(every_s)
                continue
            waiting = "the gateway to answer the published instruments"
            checked = _published_instruments_answer(client, urls.gateway, published)
            if checked is not None:
                return checked
            time.sleep(every_s)
    raise RuntimeError(f"stack not queryable after {timeout_s:g}s: still waiting for {waiting}")


def _published_instruments_answer(
    client: httpx.Client, gateway: str, published: Mapping[str, Any]
) -> list[str] | None:
    """The published instruments the lake lists, if each answers its bars through the gateway."""
    try:
        listing = client.get(f"{gateway}/api/v1/instruments")
        if listing.status_code != 200:
            return None
        # A provider's instrument may have had no bar in the backfill window (a weekend for an
        # exchange calendar): only what the lake lists can be asked for.
        stored = {(e["source"], e["instrument_id"]) for e in listing.json()["instruments"]}
        wanted = sorted(
            symbol
            for source, symbols in published.get("instruments", {}).items()
            for symbol in symbols
            if (source, symbol) in stored
        )
        for symbol in wanted:
            bars = client.get(f"{gateway}/api/v1/bars", params={"symbol": symbol})
            if bars.status_code != 200:
                return None
    except httpx.HTTPError:
        return None
    if not wanted and any(published.get("instruments", {}).values()):
        return None  # the lake has none of them yet: the listing is older than the last flush
    return wanted
