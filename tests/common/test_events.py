"""Event contracts: validation rules and the wire round trip."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from sextant_common.events import Bar, DeadLetter
from sextant_common.timeparse import parse_bound
from tests.support import make_bar


def test_bar_round_trips_through_wire_bytes() -> None:
    bar = make_bar("AAPL", close=191.5, revision=2)
    assert Bar.from_bytes(bar.to_bytes()) == bar


def test_bar_timestamps_are_normalized_to_utc() -> None:
    bar = Bar.model_validate_json(
        make_bar().to_bytes().replace(b'"2020-01-01T00:00:00Z"', b'"2020-01-01T05:00:00+05:00"')
    )
    assert bar.ts_event == datetime(2020, 1, 1, tzinfo=UTC)
    assert bar.ts_event.utcoffset() is not None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ts_event": datetime(2020, 1, 1)}, "timezone info"),
        ({"high": 50.0}, "high/low do not bound"),
        ({"low": 150.0}, "high/low do not bound"),
        ({"volume": -1.0}, "greater than or equal to 0"),
        ({"close": float("nan")}, "finite number"),
        ({"close": 0.0}, "greater than 0"),
        ({"volume": float("inf")}, "finite number"),
        ({"instrument_id": "bad symbol!"}, "pattern"),
        ({"interval": "7d"}, "Input should be"),
    ],
)
def test_bar_rejects_invalid_fields(change: dict[str, object], message: str) -> None:
    fields = {**make_bar().model_dump(), **change}
    with pytest.raises(ValidationError, match=message):
        Bar(**fields)


def test_a_timestamp_that_leaves_the_calendar_in_utc_is_a_validation_error() -> None:
    wire = make_bar("A").model_dump(mode="json") | {"ts_event": "9999-12-31T23:00:00-05:00"}
    with pytest.raises(ValidationError, match=r"ts_event .* is out of range in UTC"):
        Bar.model_validate(wire)


def test_bar_rejects_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Bar(**{**make_bar().model_dump(), "vwap": 1.0})


def test_dead_letter_keeps_raw_bytes_and_reason() -> None:
    letter = DeadLetter.for_record(
        topic="md.bars.v1", partition=3, offset=42, consumer="datasets", error="boom", raw=b"\x00{"
    )
    parsed = DeadLetter.model_validate_json(letter.to_bytes())
    assert parsed.raw == b"\x00{"
    assert (parsed.topic, parsed.partition, parsed.offset, parsed.error) == (
        "md.bars.v1",
        3,
        42,
        "boom",
    )


def test_parse_bound_handles_dates_datetimes_and_errors() -> None:
    assert parse_bound("2008-12-31", field="end", end_of_day=True) == datetime(
        2008, 12, 31, 23, 59, 59, 999999, tzinfo=UTC
    )
    assert parse_bound("2008-01-01T10:00:00", field="start") == datetime(2008, 1, 1, 10, tzinfo=UTC)
    assert parse_bound("2008-01-01T10:00:00+02:00", field="start").hour == 8
    with pytest.raises(ValueError, match="start: 'soon'"):
        parse_bound("soon", field="start")


@pytest.mark.parametrize(
    "symbol", ["../x", "a/../../etc", "a/./b", "..", ".", "a//b", "a/..", ".hidden", "a/b/c"]
)
def test_an_instrument_id_that_could_name_a_path_segment_is_refused(symbol: str) -> None:
    """The lake lays bars out in ``symbol=<id>`` directories: ``..`` would climb out of it."""
    with pytest.raises(ValidationError, match="instrument_id"):
        make_bar(symbol)


@pytest.mark.parametrize("symbol", ["SPX", "EUR/USD", "BRK.B", "ES.c.0", "^GSPC", "X" * 64])
def test_ordinary_instrument_ids_pass(symbol: str) -> None:
    assert make_bar(symbol).instrument_id == symbol
