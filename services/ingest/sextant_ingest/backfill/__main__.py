"""``python -m sextant_ingest.backfill [backfill] --start ... --end ...``: the backfill CLI."""

import sys

from sextant_ingest.backfill.cli import main

args = sys.argv[1:]
raise SystemExit(main(args if args[:1] == ["backfill"] else ["backfill", *args]))
