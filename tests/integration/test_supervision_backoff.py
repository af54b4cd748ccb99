"""The Supervisor on its own: crash detection, exponential backoff, reset, logging, stop order.

Real child processes (a tiny Python that exits or sleeps), a fake clock for the delays.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import pytest

from sextant_common.devstack import Backoff, ServiceProcess, ServiceSpec, Supervisor, describe_exit

CRASH = [sys.executable, "-c", "import sys; sys.exit(3)"]
SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


class FakeClock:
    def __init__(self) -> None:
        self.now = time.monotonic()  # services record their start on the real monotonic clock

    def __call__(self) -> float:
        return self.now


def _service(name: str, argv: list[str], log: list[str]) -> ServiceProcess:
    return ServiceProcess(ServiceSpec(name, argv), {}, log.append)


def test_backoff_doubles_from_half_a_second_up_to_thirty() -> None:
    backoff = Backoff()
    assert [backoff.delay(n) for n in range(1, 9)] == [0.5, 1, 2, 4, 8, 16, 30, 30]
    with pytest.raises(ValueError, match="attempt counts from 1"):
        backoff.delay(0)


def test_exit_codes_and_signals_are_named() -> None:
    assert describe_exit(3) == "exit code 3"
    assert describe_exit(-9) == "signal SIGKILL"
    assert describe_exit(-15) == "signal SIGTERM"


def test_a_crash_loop_backs_off_and_the_other_service_keeps_running() -> None:
    log: list[str] = []
    clock = FakeClock()
    steady = _service("steady", SLEEP, log)
    crashy = _service("crashy", CRASH, log)
    supervisor = Supervisor([steady, crashy], sink=log.append, clock=clock)
    try:
        delays = []
        for attempt in range(1, 5):
            crashy.process.wait(10)
            supervisor.poll()  # notices the exit, schedules the restart
            died = [line for line in log if "died" in line][-1]
            assert "crashy" in died and "exit code 3" in died
            assert f"restart attempt {attempt} in" in died
            delay = float(died.rsplit(" in ", 1)[1].rstrip("s"))
            delays.append(delay)
            clock.now += delay - 0.01
            supervisor.poll()
            assert supervisor.restarts.get("crashy", 0) == attempt - 1, "restarted too early"
            clock.now += 0.01
            supervisor.poll()
            assert supervisor.restarts["crashy"] == attempt
            assert any(f"crashy restarted (attempt {attempt}," in line for line in log)
        assert delays == [0.5, 1, 2, 4]
        assert steady.process.poll() is None and "steady" not in supervisor.restarts
    finally:
        supervisor.stop()
    assert steady.process.poll() is not None


def test_backoff_resets_after_the_service_stayed_up() -> None:
    log: list[str] = []
    clock = FakeClock()
    crashy = _service("crashy", CRASH, log)
    supervisor = Supervisor(
        [crashy], backoff=Backoff(reset_after_s=60.0), sink=log.append, clock=clock
    )
    try:
        for _ in range(3):  # three quick crashes: attempt 3, 2 s
            crashy.process.wait(10)
            supervisor.poll()
            clock.now += 10
            supervisor.poll()
        crashy.process.wait(10)
        clock.now += 61  # this run "stayed up" a minute before dying
        supervisor.poll()
        assert "restart attempt 1 in 0.5s" in [line for line in log if "died" in line][-1]
    finally:
        supervisor.stop()


def test_stop_stops_everything_in_reverse_order_and_restarts_nothing() -> None:
    log: list[str] = []
    clock = FakeClock()
    first, second = _service("first", SLEEP, log), _service("second", SLEEP, log)
    stopped: list[str] = []
    for service in (first, second):
        original = service.stop

        def stop(
            timeout_s: float = 10.0,
            original: Callable[..., None] = original,
            name: str = service.spec.name,
        ) -> None:
            stopped.append(name)
            original(timeout_s)

        service.stop = stop
    supervisor = Supervisor([first, second], sink=log.append, clock=clock)
    supervisor.stop()
    assert stopped == ["second", "first"]
    assert first.process.poll() is not None and second.process.poll() is not None
    clock.now += 100
    supervisor.poll()  # a stopped service is not a crashed one
    assert supervisor.restarts == {} and not any("died" in line for line in log)
