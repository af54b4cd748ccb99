"""The registry of provider names an event's ``source`` may carry.

Every record on the bus says where it came from (``Bar.source``, ``MacroObservation.source``
...). Consumers accept only the names listed here, so a producer outside the project cannot
invent a source and have it stored next to (or preferred over) real data. Ingest's provider
registries are checked against this list in the tests, so the two cannot drift apart: a new
provider adds its name here in the same change.

Test suites and local experiments that publish under other names register them per process with
``SEXTANT_EXTRA_SOURCES`` (a JSON list, read by the consuming service's settings), never by
adding them here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

OFFLINE_SOURCES: Final = frozenset({"simulated", "shipped"})
"""Sources that need no network: the simulated market and the files shipped in the repo."""

HTTP_SOURCES: Final = frozenset(
    {
        "coinbase",
        "coingecko",
        "databento",
        "fred",
        "french",
        "google_trends",
        "imf",
        "newsapi",
        "oanda",
        "polygon",
        "reddit",
        "sec_edgar",
        "tiingo",
        "worldbank",
    }
)
"""The providers of the unified fetcher (``sextant_ingest.providers.<name>``)."""

PROVIDER_SOURCES: Final = OFFLINE_SOURCES | HTTP_SOURCES
"""Every source name a Sextant provider publishes under."""


def accepted_sources(extra: Iterable[str] = ()) -> frozenset[str]:
    """:data:`PROVIDER_SOURCES` plus the ``extra`` names a deployment registers."""
    return PROVIDER_SOURCES | frozenset(extra)


def unknown_source_reason(source: str, accepted: frozenset[str]) -> str | None:
    """Why ``source`` is refused (None when it is in ``accepted``); the text lists the names."""
    if source in accepted:
        return None
    return (
        f"source {source!r} is not a registered provider (known: {', '.join(sorted(accepted))}); "
        "add it to sextant_common.sources or to SEXTANT_EXTRA_SOURCES"
    )
