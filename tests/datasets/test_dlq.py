"""The kept DLQ without a broker: the SQLite store (idempotent on where a record failed), the
normalized reasons, the ``/v1/dlq`` routes and the replay's headers and value check."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sextant_common import topics
from sextant_common.events import DeadLetter
from sextant_common.http_errors import install_error_handlers
from sextant_datasets.api.routes import dlq
from sextant_datasets.dlq.replay import ReplayRefused, check_value, replay, replay_headers
from sextant_datasets.dlq.store import (
    DeadLetterStore,
    UnknownLetter,
    letter_id,
    normalized_reason,
)
from tests.support import make_bar


def _letter(
    offset: int, *, raw: bytes = b"{not json", error: str = "", topic: str = topics.MD_BARS
) -> DeadLetter:
    return DeadLetter.for_record(
        topic=topic,
        partition=2,
        offset=offset,
        consumer="datasets",
        error=error or f"ValueError: bad record at offset {offset}",
        raw=raw,
        key=b"SPX",
        headers=[("trace", b"abc"), ("bin", b"\xff\x00")],
    )


@pytest.fixture
def store(tmp_path: Path) -> DeadLetterStore:
    return DeadLetterStore(tmp_path / "dlq" / "letters.sqlite3")


def test_a_redelivered_dead_letter_is_stored_once(store: DeadLetterStore) -> None:
    first = _letter(7)
    again = _letter(7, error="ValueError: said differently the second time")
    assert store.add([first]) == 1
    assert store.add([again, _letter(8)]) == 1
    page = store.page()
    assert page.total == 2 and [s.letter.offset for s in page.letters] == [8, 7]
    assert store.get(letter_id(first)).letter == first


def test_records_never_on_the_bus_are_told_apart_by_content(store: DeadLetterStore) -> None:
    one, other = _letter(-1, raw=b"a"), _letter(-1, raw=b"b")
    assert letter_id(one) != letter_id(other)
    assert store.add([one, other, _letter(-1, raw=b"a")]) == 2


def test_reasons_group_errors_that_differ_only_in_values() -> None:
    assert normalized_reason("ValueError: bad record at offset 7") == normalized_reason(
        "ValueError: bad record at offset 8"
    )
    assert normalized_reason("refused: source 'acme' is not registered") == normalized_reason(
        "refused: source 'zeta' is not registered"
    )
    pydantic = "ValidationError: 1 validation error for Bar\n  Invalid JSON [type=json_invalid, x]"
    assert (
        normalized_reason(pydantic) == "ValidationError: N validation error for Bar [json_invalid]"
    )
    assert normalized_reason("") == "(no error text)"


def test_counts_filter_and_pages(store: DeadLetterStore) -> None:
    store.add([_letter(i) for i in range(5)])
    store.add([_letter(1, topic=topics.NEWS_ITEMS, error="refused: too old")])
    page = store.page(topic=topics.MD_BARS, limit=2, offset=1)
    assert page.by_topic == {topics.MD_BARS: 5, topics.NEWS_ITEMS: 1}
    assert page.by_reason == {"ValueError: bad record at offset N": 5}
    assert page.total == 5 and [s.letter.offset for s in page.letters] == [3, 2]


def test_mark_replayed(store: DeadLetterStore) -> None:
    store.add([_letter(3)])
    id_ = letter_id(_letter(3))
    store.mark_replayed(id_, "md.bars.v1/0@12", "fixed the close")
    stored = store.get(id_)
    assert stored.replayed_to == "md.bars.v1/0@12" and stored.replay_note == "fixed the close"
    assert stored.replayed_at is not None
    with pytest.raises(UnknownLetter):
        store.mark_replayed("0" * 16, "x", None)


def test_the_routes_show_key_headers_and_value(store: DeadLetterStore) -> None:
    store.add([_letter(1, raw=b"\xff\xfe"), _letter(2)])
    app = FastAPI()
    install_error_handlers(app)
    app.state.dead_letters = store
    app.include_router(dlq.router)
    client = TestClient(app)
    body = client.get("/v1/dlq", params={"topic": topics.MD_BARS, "limit": 1}).json()
    assert body["total"] == 2 and body["by_topic"] == [{"topic": topics.MD_BARS, "count": 2}]
    assert body["by_error"] == [{"reason": "ValueError: bad record at offset N", "count": 2}]
    (newest,) = body["letters"]
    assert newest["offset"] == 2 and newest["key"] == "SPX" and newest["value"] == "{not json"
    assert newest["headers"] == [
        {"name": "trace", "value_b64": "YWJj", "value": "abc"},
        {"name": "bin", "value_b64": "/wA=", "value": None},
    ]
    older = client.get(f"/v1/dlq/{letter_id(_letter(1, raw=b''))}").json()
    assert older["value"] is None and older["value_b64"] == "//4="
    assert client.get(f"/v1/dlq/{'0' * 16}").status_code == 404
    assert client.get("/v1/dlq/not-an-id").status_code == 422
    assert client.get("/v1/dlq", params={"limit": 0}).status_code == 422
    assert client.get("/v1/dlq", params={"nope": 1}).status_code == 422
    assert client.get("/v1/dlq", params={"offset": 2**70}).status_code == 422


def test_replay_headers_keep_the_originals_and_mark_the_replay() -> None:
    original = [("trace", b"abc"), ("sextant.replayed-from", b"old")]
    assert replay_headers(original, "abcd") == [
        ("trace", b"abc"),
        ("sextant.replayed-from", b"abcd"),
    ]


def test_a_value_its_topic_would_refuse_again_is_not_replayed() -> None:
    check_value(topics.MD_BARS, make_bar("SPX").model_dump_json().encode())
    with pytest.raises(ReplayRefused, match=r"not a valid Bar for md\.bars\.v1"):
        check_value(topics.MD_BARS, b"{not json")
    check_value(topics.MD_BARS, b"{not json", force=True)
    for force in (False, True):
        with pytest.raises(ReplayRefused, match=r"some\.undeclared\.v1 is not a declared topic"):
            check_value("some.undeclared.v1", b"anything", force=force)


def test_a_letter_whose_value_was_cut_is_replayed_only_with_the_whole_value(
    store: DeadLetterStore,
) -> None:
    letter = DeadLetter.for_record(
        topic=topics.MD_BARS, partition=0, offset=9, consumer="c", error="e", raw=b"x" * 300_000
    )
    assert letter.raw_size == 300_000 and len(letter.raw) < 300_000
    store.add([letter])
    with pytest.raises(ReplayRefused, match=r"only the first 262144 of the value's 300000 bytes"):
        # refused before anything is sent: no broker listens on port 1
        asyncio.run(replay(store, "127.0.0.1:1", letter_id(letter)))
