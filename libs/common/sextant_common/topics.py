"""Versioned topic names. Grep a constant to find every producer and consumer of a topic.

A breaking change to an event schema is a new topic version (``md.bars.v2``), never an edit.
Each name here is declared (model, key, partitions, retention, producers, consumers) in
:mod:`sextant_common.channels`, which refuses to import when one is missing.
"""

from __future__ import annotations

from typing import Final

MD_BARS: Final = "md.bars.v1"
"""Normalized OHLCV bars (:class:`sextant_common.events.Bar`), key = instrument id."""
REF_FUNDAMENTALS: Final = "ref.fundamentals.v1"
"""Reported financial facts (:class:`sextant_common.events.Fundamental`), key = entity."""
MACRO_SERIES: Final = "macro.series.v1"
"""Macro-economic observations (:class:`sextant_common.events.MacroObservation`), key = series."""
NEWS_ITEMS: Final = "news.items.v1"
"""News articles (:class:`sextant_common.events.NewsItem`), key = article id."""
ALT_SIGNALS: Final = "alt.signals.v1"
"""Alternative-data signals such as sentiment (:class:`sextant_common.events.AltSignal`)."""
MD_OPTIONS: Final = "md.options.v1"
"""Option chain snapshot quotes (:class:`sextant_common.events.OptionQuote`), key = underlying."""
QUANT_ANALYTICS: Final = "quant.analytics.v1"
"""Live per-bar analytics of an instrument (:class:`sextant_common.events.Analytics`), key =
instrument id."""
JOBS_REQUESTS: Final = "jobs.requests.v1"
"""Requests for long work (:class:`sextant_common.events.JobRequest`), key = job id."""
JOBS_EVENTS: Final = "jobs.events.v1"
"""Progress and results of jobs (:class:`sextant_common.events.JobEvent`), key = job id."""
DLQ: Final = "dlq.v1"
"""Events a consumer could not parse or validate (:class:`sextant_common.events.DeadLetter`)."""
