"""Versioned topic names. Grep a constant to find every producer and consumer of a topic.

A breaking change to an event schema is a new topic version (``md.bars.v2``), never an edit.
"""

from __future__ import annotations

from typing import Final

MD_BARS: Final = "md.bars.v1"
"""Normalized OHLCV bars (:class:`sextant_common.events.Bar`), key = instrument id."""
DLQ: Final = "dlq.v1"
"""Events a consumer could not parse or validate (:class:`sextant_common.events.DeadLetter`)."""

ALL_TOPICS: Final = (MD_BARS, DLQ)
