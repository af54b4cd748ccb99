"""Every bus channel declared once: topic, event model, key, partitions, retention, producers and
consumers.

Topic creation (:func:`sextant_common.bus.ensure_topics`), the AsyncAPI document
(:mod:`sextant_common.asyncapi`) and the contract tests (``tests/common/test_channels.py``) read
:data:`CHANNELS`. The topic names themselves are written once, in :mod:`sextant_common.topics`
(a leaf module, so the event models can name their topic without an import cycle); importing
this module fails if a topic there is undeclared here or a model names another topic.

Producers and consumers are service names (``services/<name>``) and say what the code does
today: the contract test fails if a declared service does not reference the topic.

``python -m sextant_common.channels > libs/common/sextant_common/channels.lock.json`` refreshes
the schema fingerprints (only for a compatible, additive change; a breaking one is a new topic
version).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from typing import Any, Final

from sextant_common import topics
from sextant_common.events import (
    AltSignal,
    Analytics,
    Bar,
    DeadLetter,
    Event,
    Fundamental,
    JobEvent,
    JobRequest,
    MacroObservation,
    NewsItem,
    OptionQuote,
)
from sextant_common.settings import CommonSettings

DAY_MS: Final = 24 * 3600 * 1000

# Retention is set as the topic's ``retention.ms`` when Sextant creates it; a production Kafka
# cluster enforces it. The embedded tansu 0.6 stores it but never deletes by it, and DeleteRecords
# panics a broker thread without deleting (tests/common/test_embedded_broker_limits.py pins both;
# figures in sextant_common.broker_launcher). Treat the values as the contract and tansu as
# keeping everything until it stops.


@dataclass(frozen=True)
class Channel:
    """One topic of the bus and everything a producer or consumer must agree on."""

    topic: str
    model: type[Event]
    key: str
    """What the Kafka key is, in words (always the UTF-8 bytes of ``key_field`` when set)."""
    key_field: str | None
    """The model field whose UTF-8 bytes are the record key; None when the key is not a field."""
    partitions: int
    retention_ms: int
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    summary: str
    partitions_setting: str | None = None
    """A :class:`CommonSettings` field that overrides :attr:`partitions` at creation."""

    def partitions_for(self, settings: CommonSettings) -> int:
        """Partitions to create the topic with under ``settings``."""
        if self.partitions_setting is None:
            return self.partitions
        return int(getattr(settings, self.partitions_setting))

    @property
    def title(self) -> str:
        """The event model's name (e.g. ``Bar``)."""
        return self.model.__name__


_FETCHED_RETENTION_MS: Final = 30 * DAY_MS

CHANNELS: Final[tuple[Channel, ...]] = (
    Channel(
        topic=topics.MD_BARS,
        model=Bar,
        key="the instrument id (e.g. SPX, BTC-USD), so one instrument stays in one partition",
        key_field="instrument_id",
        partitions=CommonSettings.model_fields["bars_partitions"].default,
        partitions_setting="bars_partitions",
        # The lake is the durable store; the bus only has to cover a consumer restart.
        retention_ms=7 * DAY_MS,
        producers=("ingest",),
        consumers=("datasets", "gateway", "quant"),
        summary="Normalized OHLCV bars, live and backfilled; corrections carry a higher revision.",
    ),
    Channel(
        topic=topics.REF_FUNDAMENTALS,
        model=Fundamental,
        key="the entity id (ticker or CIK), so one company's facts stay ordered",
        key_field="entity_id",
        partitions=1,
        retention_ms=_FETCHED_RETENTION_MS,
        producers=("ingest",),
        consumers=("datasets",),
        summary="Reported financial facts (XBRL values of filings), point in time.",
    ),
    Channel(
        topic=topics.MACRO_SERIES,
        model=MacroObservation,
        key="the series id (e.g. FRED:GDPC1)",
        key_field="series_id",
        partitions=1,
        retention_ms=_FETCHED_RETENTION_MS,
        producers=("ingest",),
        consumers=("datasets",),
        summary="Macro-economic observations, one value of a series per period, as known then.",
    ),
    Channel(
        topic=topics.NEWS_ITEMS,
        model=NewsItem,
        key="the article id (a stable hash, e.g. of the url)",
        key_field="item_id",
        partitions=1,
        retention_ms=_FETCHED_RETENTION_MS,
        producers=("ingest",),
        consumers=("datasets",),
        summary="News articles about zero or more instruments, with an optional sentiment.",
    ),
    Channel(
        topic=topics.ALT_SIGNALS,
        model=AltSignal,
        key="the subject (an instrument id or a keyword)",
        key_field="subject",
        partitions=1,
        retention_ms=_FETCHED_RETENTION_MS,
        producers=("ingest",),
        consumers=("datasets",),
        summary="Alternative-data readings (e.g. sentiment) normalized to 0..1.",
    ),
    Channel(
        topic=topics.MD_OPTIONS,
        model=OptionQuote,
        key="the underlying's instrument id, so one chain snapshot stays ordered",
        key_field="underlying",
        partitions=1,
        retention_ms=7 * DAY_MS,
        producers=("ingest",),
        consumers=("datasets",),
        summary="Option chain snapshots: one quote per contract (bid/ask, volume, open interest).",
    ),
    Channel(
        topic=topics.QUANT_ANALYTICS,
        model=Analytics,
        key="the instrument id, like its bars",
        key_field="instrument_id",
        partitions=CommonSettings.model_fields["bars_partitions"].default,
        partitions_setting="bars_partitions",
        # Live figures: a consumer that was away recomputes from the lake instead of replaying.
        retention_ms=DAY_MS,
        producers=("quant",),
        consumers=("gateway",),
        summary="Live analytics per bar: EWMA volatility, filtered regime probabilities, rolling "
        "beta, 1-day VaR.",
    ),
    Channel(
        topic=topics.JOBS_REQUESTS,
        model=JobRequest,
        key="the job id, so a job's messages stay ordered",
        key_field="job_id",
        partitions=6,  # quant replicas share the requests through one group: up to 6 run jobs
        retention_ms=7 * DAY_MS,
        producers=("quant",),
        consumers=("quant",),
        summary="Requests for long work (backtests, sweeps) to be run by the job runner.",
    ),
    Channel(
        topic=topics.JOBS_EVENTS,
        model=JobEvent,
        key="the job id",
        key_field="job_id",
        partitions=1,
        retention_ms=7 * DAY_MS,
        producers=("quant",),
        consumers=("gateway",),
        summary="Progress and outcome of jobs; a job's last event has a final status.",
    ),
    Channel(
        topic=topics.DLQ,
        model=DeadLetter,
        key="the original record's key, byte for byte (no key when the original had none)",
        key_field=None,
        partitions=1,
        # Kept longer than anything it can hold, so a fixed record can still be replayed.
        retention_ms=30 * DAY_MS,
        producers=("datasets", "gateway", "ingest", "quant"),
        consumers=("datasets",),
        summary="Records a consumer or the fetcher could not parse, validate or accept.",
    ),
)

BY_TOPIC: Final[dict[str, Channel]] = {channel.topic: channel for channel in CHANNELS}
TOPICS: Final[tuple[str, ...]] = tuple(BY_TOPIC)
"""Every declared topic, in declaration order."""


def _check_declarations() -> None:
    named = {
        value for name, value in vars(topics).items() if name.isupper() and isinstance(value, str)
    }
    if len(BY_TOPIC) != len(CHANNELS):
        raise RuntimeError("a topic is declared twice in sextant_common.channels.CHANNELS")
    if named != set(BY_TOPIC):
        undeclared, unnamed = sorted(named - set(BY_TOPIC)), sorted(set(BY_TOPIC) - named)
        raise RuntimeError(
            f"sextant_common.topics and channels disagree: undeclared {undeclared}, unnamed "
            f"{unnamed}; declare each topic of topics.py once in CHANNELS"
        )
    for channel in CHANNELS:
        if channel.topic != channel.model.TOPIC:
            raise RuntimeError(
                f"{channel.title}.TOPIC is {channel.model.TOPIC!r} but it is declared on "
                f"{channel.topic!r}"
            )


_check_declarations()


def _wire_shape(node: Any, *, under_properties: bool = False) -> Any:
    """``node`` without the prose (titles, descriptions): what a change of the wire format is."""
    if isinstance(node, dict):
        return {
            key: _wire_shape(value, under_properties=key == "properties" and not under_properties)
            for key, value in node.items()
            if under_properties or key not in ("title", "description")
        }
    if isinstance(node, list):
        return [_wire_shape(item) for item in node]
    return node


def schema_fingerprint(channel: Channel) -> str:
    """SHA-256 of the wire shape of ``channel``'s JSON schema (validation mode, prose removed)."""
    shape = _wire_shape(channel.model.model_json_schema())
    return hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()


def fingerprints() -> dict[str, dict[str, str]]:
    """``{topic: {"model": name, "schema_sha256": fingerprint}}`` for the lock file."""
    return {
        channel.topic: {"model": channel.title, "schema_sha256": schema_fingerprint(channel)}
        for channel in CHANNELS
    }


if __name__ == "__main__":
    sys.stdout.write(json.dumps(fingerprints(), indent=2) + "\n")
