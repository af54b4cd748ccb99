"""``/v1/dlq``: the kept dead letters (records a consumer or the fetcher could not accept).

- ``GET /v1/dlq``: counts by original topic and by normalized error, and the newest letters
  (paged, optionally of one topic), each with its raw value, key and headers.
- ``GET /v1/dlq/{letter_id}``: one letter.

- ``POST /v1/dlq/{letter_id}/replay``: publish the letter's record again (or a fixed value)
  to its original topic with its key and headers; refused (422) when the value would only be
  dead-lettered again, unless ``force``. Admins only at the gateway. The same as the command
  ``python -m sextant_datasets.dlq replay --id <id> [--value-file fixed.json]``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import orjson
from aiokafka.errors import KafkaError
from fastapi import APIRouter, HTTPException, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from sextant_common.http_errors import error_responses
from sextant_datasets.api.deps import DeadLetterStoreDep
from sextant_datasets.dlq.replay import ReplayRefused, replay
from sextant_datasets.dlq.store import StoredLetter, UnknownLetter, text_or_none

router = APIRouter(prefix="/v1/dlq", tags=["dlq"])

LETTER_ID_PATTERN = r"^[0-9a-f]{16}$"
MAX_OFFSET = 1_000_000_000
"""Past any real store, and inside SQLite's 64-bit integers."""


class DlqParams(BaseModel):
    """``GET /v1/dlq`` parameters. Unknown parameters are rejected."""

    model_config = ConfigDict(extra="forbid")

    topic: str | None = Field(
        None, max_length=249, description="Only letters of this original topic, e.g. md.bars.v1"
    )
    limit: int = Field(50, ge=1, le=500, description="Most letters returned, newest first")
    offset: int = Field(
        0, ge=0, le=MAX_OFFSET, description="Letters skipped (the newest first) before those"
    )


class HeaderPublic(BaseModel):
    """One header of the original record."""

    name: str
    value_b64: str
    value: str | None = Field(description="The value as UTF-8 text; null when it is not UTF-8")


class DeadLetterPublic(BaseModel):
    """One kept dead letter: where the record failed, why, and the record itself."""

    id: str = Field(description="Stable id, for GET /v1/dlq/{id} and the replay command")
    topic: str = Field(description="Topic the record was on (or was meant for)")
    partition: int = Field(description="-1 when the record never reached the bus (the fetcher)")
    offset: int = Field(description="-1 when the record never reached the bus (the fetcher)")
    consumer: str = Field(description="Consumer group or component that refused it")
    error: str
    reason: str = Field(description="The error normalized for counting (see by_error)")
    key_b64: str | None = Field(description="The original key, base64; null when it had none")
    key: str | None = Field(description="The key as UTF-8 text; null when absent or not UTF-8")
    headers: list[HeaderPublic]
    value_b64: str = Field(description="The original value, base64")
    value: str | None = Field(description="The value as UTF-8 text; null when it is not UTF-8")
    ts_failed: datetime
    stored_at: datetime
    replayed_at: datetime | None
    replayed_to: str | None = Field(description="``topic/partition@offset`` of the last replay")
    replay_note: str | None

    @classmethod
    def of(cls, stored: StoredLetter) -> DeadLetterPublic:
        """The public view of a stored letter."""
        letter = stored.letter
        key = letter.key
        return cls(
            id=stored.id,
            topic=letter.topic,
            partition=letter.partition,
            offset=letter.offset,
            consumer=letter.consumer,
            error=letter.error,
            reason=stored.reason,
            key_b64=letter.key_b64,
            key=None if key is None else text_or_none(key),
            headers=[
                HeaderPublic(name=h.name, value_b64=h.value_b64, value=text_or_none(h.value))
                for h in letter.headers
            ],
            value_b64=letter.raw_b64,
            value=text_or_none(letter.raw),
            ts_failed=letter.ts_failed,
            stored_at=stored.stored_at,
            replayed_at=stored.replayed_at,
            replayed_to=stored.replayed_to,
            replay_note=stored.replay_note,
        )


class TopicCount(BaseModel):
    """Letters of one original topic."""

    topic: str
    count: int


class ReasonCount(BaseModel):
    """Letters with one normalized reason."""

    reason: str
    count: int


class DeadLettersPublic(BaseModel):
    """Counts and one page of the newest letters."""

    total: int = Field(description="Letters matching the filter")
    by_topic: list[TopicCount] = Field(description="Every stored letter per topic (unfiltered)")
    by_error: list[ReasonCount] = Field(description="Letters matching the filter per reason")
    limit: int
    offset: int
    letters: list[DeadLetterPublic] = Field(description="Newest first")


@router.get("", response_model=DeadLettersPublic)
def list_dead_letters(
    store: DeadLetterStoreDep, params: Annotated[DlqParams, Query()]
) -> DeadLettersPublic:
    """Counts by topic and by reason, and the newest dead letters (of ``topic`` when given)."""
    page = store.page(topic=params.topic, limit=params.limit, offset=params.offset)
    return DeadLettersPublic(
        total=page.total,
        by_topic=[TopicCount(topic=t, count=n) for t, n in page.by_topic.items()],
        by_error=[ReasonCount(reason=r, count=n) for r, n in page.by_reason.items()],
        limit=params.limit,
        offset=params.offset,
        letters=[DeadLetterPublic.of(stored) for stored in page.letters],
    )


@router.get(
    "/{letter_id}",
    response_model=DeadLetterPublic,
    responses=error_responses({404: "Unknown dead letter: no letter with this id is stored"}),
)
def get_dead_letter(
    store: DeadLetterStoreDep,
    letter_id: Annotated[str, Path(pattern=LETTER_ID_PATTERN, description="16 hex digits")],
) -> DeadLetterPublic:
    """One dead letter by id."""
    try:
        return DeadLetterPublic.of(store.get(letter_id))
    except UnknownLetter:
        raise HTTPException(404, detail=f"no dead letter {letter_id!r} is stored") from None


class ReplayRequest(BaseModel):
    """What to replay: the kept bytes, or a fixed ``value`` (a JSON document of the topic's
    event model)."""

    model_config = ConfigDict(extra="forbid")
    value: dict[str, object] | None = Field(None, description="Fixed record value (JSON object)")
    note: str | None = Field(None, max_length=500, description="Why, kept with the letter")
    force: bool = Field(False, description="Publish even if the value fails its model")


class ReplayedPublic(BaseModel):
    """Where the replayed record was written."""

    letter_id: str
    topic: str
    partition: int
    offset: int


@router.post(
    "/{letter_id}/replay",
    response_model=ReplayedPublic,
    responses=error_responses(
        {
            404: "Unknown dead letter: no letter with this id is stored",
            422: "Refused: the value would be dead-lettered again, or only part of it was kept",
            503: "The broker did not take the record (unreachable, or its ACLs refuse it)",
        }
    ),
)
async def replay_dead_letter(
    request: Request,
    store: DeadLetterStoreDep,
    letter_id: Annotated[str, Path(pattern=LETTER_ID_PATTERN, description="16 hex digits")],
    body: ReplayRequest | None = None,
) -> ReplayedPublic:
    """Publish a dead letter's record again to the topic it failed on."""
    body = body or ReplayRequest()
    value = None if body.value is None else orjson.dumps(body.value)
    bootstrap = request.app.state.settings.require_bootstrap()
    try:
        sent = await replay(
            store, bootstrap, letter_id, value=value, note=body.note, force=body.force
        )
    except UnknownLetter:
        raise HTTPException(404, detail=f"no dead letter {letter_id!r} is stored") from None
    except ReplayRefused as exc:
        raise HTTPException(422, detail=str(exc)) from None
    except KafkaError as exc:  # e.g. the broker's ACLs let only the topic's producer write it
        raise HTTPException(
            503,
            detail=f"the broker did not take the replay: {type(exc).__name__} {exc}. Under "
            "ACLs, replay with the Kafka admin user: python -m sextant_datasets.dlq replay",
        ) from None
    return ReplayedPublic(
        letter_id=letter_id, topic=sent.topic, partition=sent.partition, offset=sent.offset
    )
