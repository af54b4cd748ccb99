"""Backfill pieces without a broker: universe files, checkpoint, progress, runner, encoding."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from sextant_common.events import AssetClass, Bar, Event, Interval, MacroObservation
from sextant_ingest.backfill import MACRO_SERIES, Checkpoint, load_universe, run_backfill
from sextant_ingest.backfill.encode import encode_page
from sextant_ingest.backfill.progress import Progress
from sextant_ingest.backfill.sources import FetcherSource
from sextant_ingest.backfill.universe import parse_universe
from sextant_ingest.providers.base import BarQuery
from sextant_ingest.providers.simulated import SimulatedProvider
from tests.support import make_bar

START = datetime(2015, 1, 1, tzinfo=UTC)
END = datetime(2025, 1, 1, tzinfo=UTC)


# -- universe ---------------------------------------------------------------------------------


def test_default_universe_is_500_dated_distinct_equities() -> None:
    members = load_universe()
    assert len(members) == 500
    assert len({m.ticker for m in members}) == 500
    assert [m.ticker for m in members[:3]] == ["AAPL", "NVDA", "MSFT"]  # largest first
    assert {m.as_of for m in members} == {"2024-12-31"}
    assert all(m.name and m.sector for m in members)
    assert len({m.sector for m in members}) == 11  # GICS sectors
    assert {"BRK.B", "BF.B", "JPM", "XOM"} <= {m.ticker for m in members}
    assert all(m.asset_class is AssetClass.EQUITY for m in members)
    assert members[0].instrument().calendar == "XNYS"


def test_macro_series_are_fred_ids() -> None:
    assert {"GDPC1", "CPIAUCSL", "UNRATE", "DGS10", "FEDFUNDS"} <= set(MACRO_SERIES)


def test_universe_file_errors_name_the_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="missing column"):
        parse_universe("symbol,name\nAAPL,Apple\n")
    with pytest.raises(ValueError, match=r"<universe>:3: ticker AAPL repeats line 2"):
        parse_universe("ticker,name\nAAPL,Apple\nAAPL,Apple again\n")
    with pytest.raises(ValueError, match=r":2: ticker 'BAD TICKER'"):
        parse_universe("ticker,name\nBAD TICKER,x\n")
    with pytest.raises(ValueError, match="asset_class 'stock'"):
        parse_universe("ticker,name,asset_class\nAAPL,Apple,stock\n")
    with pytest.raises(ValueError, match="does not exist"):
        load_universe(tmp_path / "nope.csv")


def test_custom_universe_file_with_optional_columns(tmp_path: Path) -> None:
    path = tmp_path / "u.csv"
    path.write_text("ticker,name,asset_class,calendar\nBTC-USD,Bitcoin,crypto,24/7\nIBM,,,\n")
    btc, ibm = load_universe(path)
    assert btc.asset_class is AssetClass.CRYPTO and btc.calendar == "24/7"
    assert ibm.name == "IBM" and ibm.calendar == "XNYS"


# -- checkpoint -------------------------------------------------------------------------------


def test_checkpoint_survives_a_reopen_and_is_per_job(tmp_path: Path) -> None:
    path = tmp_path / "ck" / "run.jsonl"
    first = Checkpoint(path, "simulated:1d:2015-01-01:2025-01-01")
    asyncio.run(first.mark_done("AAPL", 2516))
    asyncio.run(first.mark_done("MSFT", 2516))
    again = Checkpoint(path, "simulated:1d:2015-01-01:2025-01-01")
    assert again.done == {"AAPL": 2516, "MSFT": 2516}
    other_range = Checkpoint(path, "simulated:1d:2020-01-01:2025-01-01")
    assert not other_range.is_done("AAPL")


def test_checkpoint_drops_a_torn_last_line_and_appends_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    ck = Checkpoint(path, "j")
    asyncio.run(ck.mark_done("AAPL", 10))
    with path.open("ab") as handle:
        handle.write(b'{"key":"MSFT","rows":1')  # kill -9 in the middle of a write
    reopened = Checkpoint(path, "j")
    assert reopened.done == {"AAPL": 10}
    asyncio.run(reopened.mark_done("NVDA", 5))
    assert Checkpoint(path, "j").done == {"AAPL": 10, "NVDA": 5}
    assert all(orjson.loads(line) for line in path.read_bytes().splitlines())


# -- progress ---------------------------------------------------------------------------------


def test_progress_line_has_rate_and_eta() -> None:
    now = [0.0]
    out = io.StringIO()
    progress = Progress(4, stream=out, clock=lambda: now[0], every_s=0.0)
    now[0] = 2.0
    progress.advance(1000)
    assert progress.line() == ("backfill 1/4 symbols 25.0% | 1,000 rows | 500 rows/s | ETA 0:06")
    progress.advance(failed=True)
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines[-1].endswith("| 1 failed")
    assert "\r" not in out.getvalue()  # not a terminal: plain lines


# -- runner -----------------------------------------------------------------------------------


class FakeSource:
    """Publishes ``rows`` per key; raises for keys in ``broken``; records call order."""

    name = "fake"

    def __init__(self, rows: int = 3, broken: Sequence[str] = ()) -> None:
        self.rows = rows
        self.broken = set(broken)
        self.calls: list[str] = []

    async def publish(self, key: str) -> int:
        self.calls.append(key)
        await asyncio.sleep(0)
        if key in self.broken:
            raise ConnectionError(f"provider down for {key}")
        return self.rows


def test_runner_skips_finished_keys_and_goes_on_after_a_failure(tmp_path: Path) -> None:
    ck = Checkpoint(tmp_path / "ck.jsonl", "j")
    asyncio.run(ck.mark_done("A", 3))
    source = FakeSource(broken=["C"])
    summary = asyncio.run(run_backfill(["A", "B", "C", "D"], source, ck, concurrency=2))
    assert sorted(source.calls) == ["B", "C", "D"]
    assert (summary.done, summary.skipped, summary.rows) == (2, 1, 6)
    assert summary.failed == {"C": "ConnectionError: provider down for C"}
    assert Checkpoint(tmp_path / "ck.jsonl", "j").done == {"A": 3, "B": 3, "D": 3}
    as_json = summary.as_dict()
    assert as_json["failed_count"] == 1 and "gaps" not in as_json
    assert "2 done, 1 skipped (checkpoint), 1 failed of 4" in summary.text()

    rerun = FakeSource()
    again = asyncio.run(run_backfill(["A", "B", "C", "D"], rerun, ck, concurrency=2))
    assert rerun.calls == ["C"] and again.skipped == 3 and not again.failed


def test_runner_rejects_zero_concurrency(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="concurrency must be >= 1"):
        asyncio.run(
            run_backfill(["A"], FakeSource(), Checkpoint(tmp_path / "c", "j"), concurrency=0)
        )


# -- sources ----------------------------------------------------------------------------------


def test_encoded_pages_are_byte_identical_to_bars() -> None:
    members = load_universe()[:3] + [m for m in load_universe() if m.ticker == "BRK.B"]
    provider = SimulatedProvider(seed=7, universe=[m.instrument() for m in members])

    async def both(ticker: str) -> tuple[list[bytes], list[bytes]]:
        plan = provider.transform_query(BarQuery(Interval.D1, START, END, (ticker,)))
        fast: list[bytes] = []
        slow: list[bytes] = []
        async for raw in provider.aextract_data(plan, plan.instruments[0]):
            fast += encode_page(plan, raw, provider.name)
            slow += [bar.to_bytes() for bar in provider.transform_data(plan, raw)]
        return fast, slow

    for member in members:
        fast, slow = asyncio.run(both(member.ticker))
        assert len(fast) > 2500 and fast == slow
    assert Bar.model_validate_json(fast[0]).source == "simulated"


class FakeFetcher:
    """Answers every fetch with ``records``; publish collects what was sent."""

    def __init__(self, records: Mapping[str, list[Event]]) -> None:
        self.records = records
        self.fetched: list[tuple[str, dict[str, Any], Any, Any]] = []
        self.published: list[Event] = []

    async def fetch(
        self,
        kind: Any,
        params: Mapping[str, Any],
        *,
        asset_class: Any = None,
        provider: str | None = None,
    ) -> Any:
        self.fetched.append((kind, dict(params), asset_class, provider))
        key = params.get("instrument_id") or params.get("series_id")

        class Result:
            records = self.records.get(str(key), [])

        return Result()

    async def publish(self, records: Sequence[Event]) -> int:
        self.published += records
        return len(records)


def test_fetcher_source_fetches_bars_and_fred_macro_then_publishes() -> None:
    bars: list[Event] = [make_bar("AAPL", close=c) for c in (100.0, 101.0)]
    macro: list[Event] = [
        MacroObservation.model_validate(
            {
                "series_id": "FRED:UNRATE",
                "period": datetime(2024, 1, 1, tzinfo=UTC),
                "frequency": "M",
                "value": 3.7,
                "source": "fred",
                "ts_known": datetime(2024, 2, 2, tzinfo=UTC),
            }
        )
    ]
    fetcher = FakeFetcher({"AAPL": bars, "UNRATE": macro})
    source = FetcherSource(fetcher, START, END, {"BTC-USD": AssetClass.CRYPTO})
    assert asyncio.run(source.publish("AAPL")) == 2
    assert asyncio.run(source.publish("macro:UNRATE")) == 1
    assert asyncio.run(source.publish("BTC-USD")) == 0  # nothing to publish is not an error
    (k1, p1, a1, _), (k2, p2, _, prov2), (_, _, a3, _) = fetcher.fetched
    assert (k1, a1, p1["instrument_id"], p1["interval"], p1["start"]) == (
        "bars",
        "equity",
        "AAPL",
        "1d",
        START,
    )
    assert (k2, prov2, p2["series_id"], str(p2["observation_end"])) == (
        "macro",
        "fred",
        "UNRATE",
        "2025-01-01",
    )
    assert a3 == "crypto"
    assert fetcher.published == bars + macro
