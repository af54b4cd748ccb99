"""`make bench`: run every benchmark script and print their JSON results."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent


def main() -> int:
    """Run each bench/*.py (except this one and ``_``-prefixed helpers) from the repository root.

    Returns the worst status.
    """
    status = 0
    for script in sorted(BENCH_DIR.glob("*.py")):
        if script.name == Path(__file__).name or script.name.startswith("_"):
            continue
        print(f"== {script.name}", flush=True)
        status = max(status, subprocess.call([sys.executable, str(script)], cwd=ROOT))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
