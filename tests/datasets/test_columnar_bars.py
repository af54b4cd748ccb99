"""The columnar bar path accepts only what the Bar model accepts and stores the same values.

Random records, valid and broken in the ways producers break them, go through
:func:`read_bars` (all at once) and :func:`parse_each` (the Bar model, one by one): whenever the
columnar path takes a fetch, the model must accept every record of it and give the same rows,
bit for bit; and :meth:`BarSink.parse` must store and refuse exactly what the model path does.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from aiokafka.structs import ConsumerRecord

from sextant_common.durable_consumer import FlushPolicy, Parsed, Record
from sextant_common.events import AssetClass, Interval
from sextant_datasets.admission import BarAdmission
from sextant_datasets.consumer import BarSink, parse_each, read_bars
from sextant_datasets.lake.layout import BAR_SCHEMA
from sextant_datasets.lake.writer import LakeWriter

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
LONG_SOURCE = "s" * 33  # registered, but longer than a Bar's source may be
ADMISSION = BarAdmission.build(["test", "acme", LONG_SOURCE])
ADMIT = ADMISSION.checker(NOW)


def iso(moment: datetime, *, offset_minutes: int = 0, places: int = 0, zulu: bool = True) -> str:
    """``moment`` as ISO-8601 text in a chosen offset, with ``places`` fractional digits (more
    than 6 add digits below the microsecond)."""
    local = moment.astimezone(UTC) + timedelta(minutes=offset_minutes)
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if places:
        text += "." + f"{local.microsecond:06d}987"[:places]
    if offset_minutes == 0 and zulu:
        return text + "Z"
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def valid_fields(rng: random.Random) -> dict[str, Any]:
    interval = rng.choice(list(Interval))
    start = NOW - timedelta(
        seconds=rng.randrange(2 * 86_400, 20 * 365 * 86_400),
        microseconds=rng.choice([0, 0, rng.randrange(1_000_000)]),
    )
    close = round(rng.uniform(0.5, 5000), rng.randrange(0, 12)) or 0.01
    open_ = close * rng.uniform(0.9, 1.1)
    return {
        "instrument_id": rng.choice(["AAPL", "BRK.B", "ES^F", "EUR/USD", "BTC-USD", "x_1:2"]),
        "asset_class": rng.choice(list(AssetClass)).value,
        "interval": interval.value,
        "ts_event": iso(start),
        "open": open_,
        "high": max(open_, close) * rng.choice([1.0, 1.01]),
        "low": min(open_, close) * rng.choice([1.0, 0.99]),
        "close": close,
        "volume": rng.choice([0.0, -0.0, 1.0, rng.uniform(0, 1e9), rng.randrange(10**6)]),
        "source": rng.choice(["test", "acme"]),
        "ts_known": iso(start + interval.duration),
        "revision": rng.randrange(3),
    }


Mutation = Callable[[dict[str, Any], random.Random], "dict[str, Any] | bytes | None"]


def shifted(fields: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    moment = datetime.fromisoformat(fields["ts_event"])
    offset = rng.choice([120, -300, -330, 345, 23 * 60 + 59, -(23 * 60 + 59), 0])
    places = rng.choice([0, 0, *range(1, 7)]) if moment.microsecond == 0 else 6
    return {**fields, "ts_event": iso(moment, offset_minutes=offset, places=places, zulu=False)}


def without(fields: dict[str, Any], name: str) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if k != name}


def text(fields: dict[str, Any]) -> str:
    return json.dumps(fields)


# Records the columnar path must take (the model accepts them, in the columnar subset)
FAST: dict[str, Mutation] = {
    "plain": lambda f, r: f,
    "offset": shifted,
    "no revision": lambda f, r: without(f, "revision"),
    "integer prices": lambda f, r: {**f, "open": 10, "high": 12, "low": 9, "close": 11},
    "escaped key": lambda f, r: text(f).replace('"open"', '"\\u006fpen"').encode(),
    "escaped value": lambda f, r: text(f).replace('"AAPL"', '"\\u0041APL"').encode(),
    "pretty": lambda f, r: json.dumps(f, indent=2).encode(),
    "crlf pretty": lambda f, r: json.dumps(f, indent=1).replace("\n", "\r\n").encode(),
    "trailing newline": lambda f, r: (text(f) + "\n").encode(),
    "reordered": lambda f, r: dict(reversed(list(f.items()))),
    "long digits": lambda f, r: (
        text(f)
        .replace(f'"volume": {json.dumps(f["volume"])}', '"volume": 12345.678901234567890123')
        .encode()
    ),
    "huge integer volume": lambda f, r: {**f, "volume": 123456789012345678901234567890},
    "tiny volume": lambda f, r: (
        text(f).replace(f'"volume": {json.dumps(f["volume"])}', '"volume": 1e-400').encode()
    ),
}

# Records the model accepts but the columnar path may leave to it
SLOW: dict[str, Mutation] = {
    "lowercase z": lambda f, r: {**f, "ts_event": f["ts_event"].replace("Z", "z")},
    "space separator": lambda f, r: {**f, "ts_event": f["ts_event"].replace("T", " ")},
    "seven digits": lambda f, r: {**f, "ts_known": f["ts_known"].replace("Z", ".1234567Z")},
    "nine digits": lambda f, r: {**f, "ts_known": f["ts_known"].replace("Z", ".123456789Z")},
    "no seconds": lambda f, r: {**f, "ts_known": f["ts_known"][:16] + "Z"},
    "compact offset": lambda f, r: {**f, "ts_known": f["ts_known"].replace("Z", "+0200")},
    "string price": lambda f, r: {**f, "close": str(f["close"]), "open": f["close"]},
    "padded string": lambda f, r: {**f, "volume": f" {f['volume']} "},
    "string revision": lambda f, r: {**f, "revision": str(f["revision"])},
    "float revision": lambda f, r: {**f, "revision": float(f["revision"])},
    "leading space": lambda f, r: (" " + text(f)).encode(),
    "tab inside": lambda f, r: text(f).replace(", ", ",\t").encode(),
    "unix timestamp": lambda f, r: {**f, "ts_known": 1_700_000_000},
    "bool volume": lambda f, r: {**f, "volume": True},
    "duplicate key": lambda f, r: text(f).replace('"close": ', '"close": -1, "close": ').encode(),
}

# Records the model refuses
BAD: dict[str, Mutation] = {
    "extra field": lambda f, r: {**f, "note": "hi"},
    "extra object": lambda f, r: {**f, "meta": {"a": [1, None]}},
    "naive": lambda f, r: {**f, "ts_event": f["ts_event"].rstrip("Z")},
    "naive with fraction": lambda f, r: {**f, "ts_known": f["ts_known"].rstrip("Z") + ".5"},
    "date only": lambda f, r: {**f, "ts_event": f["ts_event"][:10]},
    "NaN token": lambda f, r: (
        text({**f, "volume": 0}).replace('"volume": 0', '"volume": NaN').encode()
    ),
    "Infinity token": lambda f, r: (
        text({**f, "high": 1}).replace('"high": 1', '"high": Infinity').encode()
    ),
    "NaN string": lambda f, r: {**f, "open": "NaN"},
    "inf string": lambda f, r: {**f, "high": "inf"},
    "null revision": lambda f, r: {**f, "revision": None},
    "null price": lambda f, r: {**f, "close": None},
    "missing field": lambda f, r: without(f, r.choice([k for k in f if k != "revision"])),
    "unknown source": lambda f, r: {**f, "source": "zeta"},
    "long source": lambda f, r: {**f, "source": LONG_SOURCE},
    "empty source": lambda f, r: {**f, "source": ""},
    "future start": lambda f, r: {**f, "ts_event": iso(NOW + timedelta(days=2))},
    "future knowledge": lambda f, r: {**f, "ts_known": iso(NOW + timedelta(hours=1))},
    "high below close": lambda f, r: {**f, "high": f["close"] * 0.5},
    "low above open": lambda f, r: {**f, "low": f["open"] * 2},
    "zero price": lambda f, r: {**f, "low": 0.0},
    "negative volume": lambda f, r: {**f, "volume": -1.0},
    "negative revision": lambda f, r: {**f, "revision": -1},
    "fractional revision": lambda f, r: {**f, "revision": 1.5},
    "space in id": lambda f, r: {**f, "instrument_id": "AA PL"},
    "newline in id": lambda f, r: {**f, "instrument_id": "AAPL\n"},
    "long id": lambda f, r: {**f, "instrument_id": "A" * 65},
    "empty id": lambda f, r: {**f, "instrument_id": ""},
    "number id": lambda f, r: {**f, "instrument_id": 123},
    "enum case": lambda f, r: {**f, "asset_class": "EQUITY"},
    "bad interval": lambda f, r: {**f, "interval": "2m"},
    "feb 29": lambda f, r: {**f, "ts_event": "2023-02-29T00:00:00Z"},
    "hour 24": lambda f, r: {**f, "ts_event": "2023-02-28T24:00:00Z"},
    "second 60": lambda f, r: {**f, "ts_event": "2023-02-28T23:59:60Z"},
    "offset 24h": lambda f, r: {**f, "ts_event": "2023-02-28T12:00:00+24:00"},
    "year 0": lambda f, r: {**f, "ts_event": "0000-01-01T00:00:00Z"},
    "past year 9999": lambda f, r: {**f, "ts_known": "9999-12-31T23:00:00-05:00"},
    "empty point": lambda f, r: {**f, "ts_known": f["ts_known"].replace("Z", ".Z")},
    "two objects": lambda f, r: (text(f) + text(f)).encode(),
    "two lines": lambda f, r: (text(f) + "\n" + text(f)).encode(),
    "array": lambda f, r: b"[" + text(f).encode() + b"]",
    "empty": lambda f, r: b"",
    "blank": lambda f, r: b"  \n ",
    "no value": lambda f, r: None,
    "not json": lambda f, r: b"{nope",
    "truncated": lambda f, r: text(f).encode()[:-1],
    "trailing comma": lambda f, r: (text(f)[:-1] + ",}").encode(),
    "trailing bytes": lambda f, r: (text(f) + " x").encode(),
    "nul after": lambda f, r: text(f).encode() + b"\0",
    "bom": lambda f, r: b"\xef\xbb\xbf" + text(f).encode(),
    "invalid utf-8": lambda f, r: (
        text({**f, "source": "test"})
        .replace('"test"', '"te\\u00ffst"')
        .encode()
        .replace(b"\\u00ff", b"\xff")
    ),
    "lone surrogate": lambda f, r: (
        text({**f, "source": "test"}).replace('"test"', '"te\\ud800st"').encode()
    ),
    "raw control char": lambda f, r: (
        text({**f, "source": "test"}).replace('"test"', '"te\tst"').encode()
    ),
}


def record_of(fields_or_raw: dict[str, Any] | bytes | None, offset: int) -> Record:
    value = text(fields_or_raw).encode() if isinstance(fields_or_raw, dict) else fields_or_raw
    return ConsumerRecord(
        "md.bars.v1", 0, offset, 0, 0, b"key", value, None, 0, len(value or b""), []
    )


def make_records(rng: random.Random, count: int, kinds: dict[str, Mutation]) -> list[Record]:
    names = sorted(kinds)
    return [
        record_of(kinds[rng.choice(names)](valid_fields(rng), rng), offset)
        for offset in range(count)
    ]


def same_rows(a: pa.Table, b: pa.Table) -> bool:
    """Equal tables, floats compared bit for bit (so -0.0 is not 0.0)."""
    if not (a.schema.equals(b.schema) and a.num_rows == b.num_rows):
        return False
    for name in a.column_names:
        left, right = a.column(name), b.column(name)
        if pa.types.is_floating(left.type):
            if not np.array_equal(left.to_numpy().view(np.int64), right.to_numpy().view(np.int64)):
                return False
        elif left.to_pylist() != right.to_pylist():
            return False
    return True


def outcome(parsed: Parsed[pa.Table]) -> tuple[pa.Table, dict[int, str]]:
    """The stored rows and the refused records' offsets with their reasons."""
    table = parsed.chunk if parsed.chunk is not None else BAR_SCHEMA.empty_table()
    assert parsed.rows == table.num_rows
    return table, {record.offset: reason for record, reason in parsed.refused}


def check_agreement(records: list[Record]) -> bool:
    """Assert the columnar path never disagrees with the model; True when it took the fetch."""
    model_rows, model_refused = outcome(parse_each(records, ADMIT))
    columnar = read_bars([r.value for r in records], ADMIT)
    if columnar is not None:
        assert model_refused == {}, [records[i].value for i in sorted(model_refused)]
        assert same_rows(columnar, model_rows)
    return columnar is not None


@pytest.mark.parametrize("name", sorted(FAST))
def test_each_valid_shape_takes_the_columnar_path(name: str) -> None:
    rng = random.Random(name)
    for _ in range(20):
        assert check_agreement([record_of(FAST[name](valid_fields(rng), rng), 0)]), name


@pytest.mark.parametrize("name", sorted(SLOW))
def test_each_shape_left_to_the_model_is_stored_as_the_model_says(name: str) -> None:
    rng = random.Random(name)
    for _ in range(10):
        record = record_of(SLOW[name](valid_fields(rng), rng), 0)
        check_agreement([record])  # either path, the same verdict and rows
        assert outcome(parse_each([record], ADMIT))[1] == {}, record.value  # the model takes it


@pytest.mark.parametrize("name", sorted(BAD))
def test_each_broken_shape_is_refused_by_both_paths(name: str) -> None:
    rng = random.Random(name)
    for _ in range(10):
        record = record_of(BAD[name](valid_fields(rng), rng), 0)
        assert not check_agreement([record]), record.value
        assert list(outcome(parse_each([record], ADMIT))[1]) == [0], record.value


@pytest.mark.parametrize("seed", range(6))
def test_random_fetches_store_and_refuse_what_the_model_does(seed: int, tmp_path: Path) -> None:
    rng = random.Random(seed)
    sink = BarSink(
        bootstrap="127.0.0.1:9",
        group_id="test",
        writer=LakeWriter(tmp_path),
        flush=FlushPolicy(),
        admission=ADMISSION,
        clock=lambda: NOW,
    )
    taken = 0
    for fetch in range(60):
        mixed = fetch % 3 == 0
        kinds = {**FAST, **SLOW, **BAD} if mixed else FAST
        records = make_records(rng, rng.randrange(1, 300), kinds)
        taken += check_agreement(records)
        rows, refused = outcome(parse_each(records, ADMIT))
        sink_rows, sink_refused = outcome(sink.parse(records))
        assert sink_refused == refused and same_rows(sink_rows, rows)
    assert taken >= 40  # every all-valid fetch went columnar
