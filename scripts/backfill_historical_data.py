"""Backfill historical daily bars onto the bus: a thin wrapper over ``sextant backfill``.

python scripts/backfill_historical_data.py --start 2015-01-01 --end 2025-01-01 --symbols 500
"""

import sys

from sextant_ingest.backfill.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    raise SystemExit(main(args if args[:1] == ["backfill"] else ["backfill", *args]))
