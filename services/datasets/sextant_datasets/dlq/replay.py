"""Re-publishing a kept dead letter, usually fixed, to the topic it failed on.

The record goes out with the original key and headers (a previous ``sextant.replayed-from``
header replaced) plus ``sextant.replayed-from: <letter id>``, so a consumer or a reader of the
topic can tell a replay from the original. Only a topic declared in
:mod:`sextant_common.channels` can be replayed to, and the value is first validated against its
event model: replaying a record that would only be dead-lettered again is refused unless forced.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from sextant_common.channels import BY_TOPIC
from sextant_common.producer import EventProducer
from sextant_datasets.dlq.store import DeadLetterStore

REPLAYED_FROM_HEADER = "sextant.replayed-from"


class ReplayRefused(ValueError):
    """The replay would not help (the value is still invalid, or there is nowhere to send it)."""


@dataclass(frozen=True)
class Replayed:
    """Where the replayed record went."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"


def replay_headers(original: list[tuple[str, bytes]], letter_id: str) -> list[tuple[str, bytes]]:
    """The original headers without an earlier replay mark, then this replay's mark."""
    kept = [(name, value) for name, value in original if name != REPLAYED_FROM_HEADER]
    return [*kept, (REPLAYED_FROM_HEADER, letter_id.encode())]


def check_value(topic: str, value: bytes, *, force: bool = False) -> None:
    """Raise :class:`ReplayRefused` when ``topic`` is not declared (nowhere to send it) or,
    unless ``force``, ``value`` is not a valid message of its model."""
    channel = BY_TOPIC.get(topic)
    if channel is None:
        raise ReplayRefused(f"{topic} is not a declared topic: there is nowhere to replay to")
    if force:
        return
    try:
        channel.model.model_validate_json(value)
    except (ValidationError, ValueError) as exc:
        raise ReplayRefused(
            f"the value is not a valid {channel.title} for {topic} and would be dead-lettered "
            f"again: {exc}. Fix it (--value-file) or pass --force"
        ) from None


async def replay(
    store: DeadLetterStore,
    bootstrap: str,
    letter_id: str,
    *,
    value: bytes | None = None,
    note: str | None = None,
    force: bool = False,
) -> Replayed:
    """Publish letter ``letter_id``'s record (with ``value`` instead of its raw bytes when
    given) to its original topic with its key and headers, then mark it replayed in ``store``.

    Raises :class:`~sextant_datasets.dlq.store.UnknownLetter` for an id not stored and
    :class:`ReplayRefused` for a value its topic's model rejects (unless ``force``).
    """
    stored = store.get(letter_id)
    letter = stored.letter
    if value is None and letter.raw_size is not None:
        raise ReplayRefused(
            f"only the first {len(letter.raw)} of the value's {letter.raw_size} bytes were kept; "
            "give the whole value (--value-file)"
        )
    body = letter.raw if value is None else value
    check_value(letter.topic, body, force=force)
    async with EventProducer(bootstrap) as producer:
        ack = await producer.send_record(
            letter.topic,
            body,
            key=letter.key,
            headers=replay_headers(letter.original_headers, letter_id),
        )
        sent = await ack
    replayed = Replayed(sent.topic, sent.partition, sent.offset)
    store.mark_replayed(letter_id, str(replayed), note)
    return replayed
