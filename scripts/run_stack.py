"""`make run`: the whole Sextant stack on this machine, one OS process per service.

Starts the embedded Kafka-wire broker (tansu) unless SEXTANT_KAFKA_BOOTSTRAP points at one,
then datasets, quant, gateway and ingest; waits for each to be healthy, prints the URL and relays
their logs prefixed by name. Ctrl-C (SIGINT) or SIGTERM stops everything in reverse order.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from pathlib import Path

from sextant_common.broker_launcher import start_broker
from sextant_common.devstack import ServiceSpec, start_services, stop_services
from sextant_common.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[1]


def stack_specs(python: str = sys.executable) -> list[ServiceSpec]:
    """The services of the embedded stack, in start order, with their health URLs."""
    return [
        ServiceSpec("datasets", [python, "-m", "sextant_datasets"], "http://127.0.0.1:8001/health"),
        ServiceSpec("quant", [python, "-m", "sextant_quant"], "http://127.0.0.1:8002/health"),
        ServiceSpec("gateway", [python, "-m", "sextant_gateway"], "http://127.0.0.1:8000/health"),
        ServiceSpec("ingest", [python, "-m", "sextant_ingest"], "http://127.0.0.1:8003/health"),
    ]


def main() -> int:
    """Run until interrupted; return the exit status."""
    settings = CommonSettings()
    env = dict(os.environ)
    broker = None
    if not settings.kafka_bootstrap:
        broker = start_broker(log_file=settings.data_dir / "logs" / "broker.log")
        env["SEXTANT_KAFKA_BOOTSTRAP"] = broker.bootstrap
        print(f"[run] embedded tansu broker on {broker.bootstrap} (in-memory)", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    services = []
    try:
        services = start_services(stack_specs(), env, sink=lambda line: print(line, flush=True))
        print("[run] Sextant is up: http://127.0.0.1:8000  (Ctrl-C to stop)", flush=True)
        while not stop.wait(0.5):
            for service in services:
                if service.process.poll() is not None:
                    print(f"[run] {service.spec.name} exited ({service.process.returncode})")
                    return 1
        return 0
    except RuntimeError as exc:
        print(f"[run] error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        print("[run] stopping ...", flush=True)
        stop_services(services)
        if broker is not None:
            broker.stop()
        print("[run] stopped", flush=True)


if __name__ == "__main__":
    os.chdir(ROOT)
    raise SystemExit(main())
