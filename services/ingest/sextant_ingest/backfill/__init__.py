"""Historical backfill: publish years of daily bars for a universe onto ``md.bars.v1``.

``sextant backfill`` (or ``python -m sextant_ingest.backfill``) walks a universe symbol by
symbol, publishes each symbol's bars through the bus and records it in a checkpoint once the
broker acknowledged every bar, so a run killed at any point resumes where it stopped. The
datasets service stores bars idempotently on their natural key, so the symbol that was in
flight when the run died is simply published again, never stored twice.

Modules: :mod:`.universe` (which symbols), :mod:`.checkpoint` (what is done),
:mod:`.progress` (the stderr progress line), :mod:`.sources` (where bars come from: any
provider of the registry with bars, or the routed unified fetcher), :mod:`.runner` (the loop)
and :mod:`.cli`.

Shipped universe ``sextant_ingest/resources/universe_us_top500.csv``: the 500 S&P 500
constituents as of 2024-12-31 (one share class per company: GOOG, FOX and NWS left out),
written from memory, not downloaded from an index vendor, so it is approximate: check it
against a current constituents list before trading on it. Rows are ordered by approximate
market capitalization for the largest ~100 (so ``--symbols N`` takes the biggest first), then
alphabetically by ticker. Columns: ticker, name, GICS sector, as_of.
"""

from sextant_ingest.backfill.checkpoint import Checkpoint
from sextant_ingest.backfill.runner import BackfillSummary, run_backfill
from sextant_ingest.backfill.universe import MACRO_SERIES, UniverseMember, load_universe

__all__ = [
    "MACRO_SERIES",
    "BackfillSummary",
    "Checkpoint",
    "UniverseMember",
    "load_universe",
    "run_backfill",
]
