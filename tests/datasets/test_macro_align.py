"""Aligning annual, quarterly, monthly and daily macro series on one calendar."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

from sextant_common.events import MacroObservation
from sextant_datasets.facts.align import align, align_rows
from sextant_ingest.providers.fred import FredSeriesObservationsFetcher
from sextant_ingest.providers.imf import ImfCompactDataFetcher
from sextant_ingest.providers.worldbank import WorldBankIndicatorFetcher

RESOURCES = Path(__file__).parents[1] / "resources"
KNOWN = datetime(2025, 1, 1, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def obs(
    series: str,
    period: datetime,
    frequency: str,
    value: float,
    known: datetime = KNOWN,
    revision: int = 0,
) -> MacroObservation:
    return MacroObservation(
        series_id=series,
        period=period,
        frequency=frequency,
        value=value,
        source="test",
        ts_known=known,
        revision=revision,
    )


ANNUAL = [obs("WB:GDP", utc(2023, 1, 1), "A", 100.0)]
QUARTERLY = [
    obs("FRED:Q", utc(2023, 1, 1), "Q", 1.0),
    obs("FRED:Q", utc(2023, 4, 1), "Q", 2.0),
    obs("FRED:Q", utc(2023, 7, 1), "Q", 3.0),
    obs("FRED:Q", utc(2023, 10, 1), "Q", 4.0),
]
MONTHLY = [obs("IMF:CPI", utc(2023, m, 1), "M", float(m)) for m in range(1, 13)]
MIXED = ANNUAL + QUARTERLY + MONTHLY


def ends(*dates: str) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(list(dates), name="period_end").tz_localize("UTC")


def test_quarterly_target_aggregates_months_and_places_the_year_at_its_end() -> None:
    for method, cpi in (("last", [3.0, 6.0, 9.0, 12.0]), ("mean", [2.0, 5.0, 8.0, 11.0])):
        frame = align(MIXED, "Q", method)  # type: ignore[arg-type]
        assert list(frame.columns) == ["FRED:Q", "IMF:CPI", "WB:GDP"]
        assert frame.index.equals(ends("2023-03-31", "2023-06-30", "2023-09-30", "2023-12-31"))
        assert frame["IMF:CPI"].tolist() == cpi, method
        assert frame["FRED:Q"].tolist() == [1.0, 2.0, 3.0, 4.0]
        gdp = frame["WB:GDP"].tolist()
        assert all(math.isnan(v) for v in gdp[:3]) and gdp[3] == 100.0


def test_ffill_repeats_a_lower_frequency_value_within_its_own_period_only() -> None:
    frame = align([*MIXED, obs("IMF:CPI", utc(2024, 1, 1), "M", 13.0)], "M", "ffill")

    assert frame.index[0] == pd.Timestamp("2023-01-31", tz="UTC")
    assert frame.index[-1] == pd.Timestamp("2024-01-31", tz="UTC")
    assert frame.loc["2023", "WB:GDP"].tolist() == [100.0] * 12
    assert frame.loc["2023", "FRED:Q"].tolist() == [1.0] * 3 + [2.0] * 3 + [3.0] * 3 + [4.0] * 3
    # 2024 has no annual or quarterly value yet: not filled across the period boundary
    assert math.isnan(frame.loc["2024-01-31", "WB:GDP"])
    assert math.isnan(frame.loc["2024-01-31", "FRED:Q"])

    last = align(MIXED, "M", "last")
    assert last["WB:GDP"].notna().sum() == 1 and last.loc["2023-12-31", "WB:GDP"] == 100.0
    assert last.loc["2023-03-31", "FRED:Q"] == 1.0 and math.isnan(last.loc["2023-01-31", "FRED:Q"])


def test_annual_target_and_daily_series() -> None:
    daily = [
        obs("FRED:DGS10", utc(2023, 12, 29), "D", 3.88),
        obs("FRED:DGS10", utc(2023, 12, 28), "D", 3.84),
        obs("FRED:DGS10", utc(2022, 12, 30), "D", 3.88),
    ]
    frame = align(MIXED + daily, "A", "last")
    assert frame.index.equals(ends("2022-12-31", "2023-12-31"))
    assert frame.loc["2023-12-31"].to_dict() == {
        "FRED:DGS10": 3.88,
        "FRED:Q": 4.0,
        "IMF:CPI": 12.0,
        "WB:GDP": 100.0,
    }
    assert align(daily, "A", "mean").loc["2023-12-31", "FRED:DGS10"] == pytest.approx(3.86)


def test_gaps_are_nan_rows_of_a_complete_calendar() -> None:
    frame = align([MONTHLY[0], MONTHLY[3]], "M")
    assert len(frame) == 4 and frame["IMF:CPI"].isna().tolist() == [False, True, True, False]


def test_as_of_uses_only_what_was_known_and_the_latest_revision() -> None:
    vintages = [
        obs("FRED:GDPC1", utc(2020, 4, 1), "Q", 17206.5, utc(2020, 7, 30), 0),
        obs("FRED:GDPC1", utc(2020, 4, 1), "Q", 17302.5, utc(2020, 8, 27), 1),
        obs("FRED:GDPC1", utc(2020, 4, 1), "Q", 17282.2, utc(2020, 9, 30), 2),
        obs("WB:GDP", utc(2020, 1, 1), "A", 21.0, utc(2021, 7, 1)),
    ]
    assert align(vintages, "Q").loc["2020-06-30", "FRED:GDPC1"] == 17282.2
    early = align(vintages, "Q", as_of=utc(2020, 9, 1))
    assert early.loc["2020-06-30", "FRED:GDPC1"] == 17302.5
    assert "WB:GDP" not in early.columns  # not published until 2021
    assert align(vintages, "Q", as_of=utc(2020, 7, 1)).empty


def test_provider_fixtures_align_together() -> None:
    """Normalized World Bank (annual), IMF (monthly) and FRED (quarterly) fixture pages."""
    wb = WorldBankIndicatorFetcher()
    wb_query = wb.transform_query({"indicator": "NY.GDP.MKTP.CD", "countries": ["USA"]})
    wb_pages = [
        json.loads((RESOURCES / "worldbank" / f"USA_NY.GDP.MKTP.CD_page{n}.json").read_text())
        for n in (1, 2)
    ]
    imf = ImfCompactDataFetcher()
    imf_query = imf.transform_query({"indicator": "PCPI_IX"})
    imf_raw = {
        "fetched_at": KNOWN,
        "payload": json.loads(
            (RESOURCES / "imf" / "CompactData_IFS_M.US.PCPI_IX.json").read_text()
        ),
    }
    fred = FredSeriesObservationsFetcher()
    fred_query = fred.transform_query({"series_id": "GDPC1"})
    fred_raw = {
        "series": json.loads((RESOURCES / "fred" / "series_GDPC1.json").read_text())["seriess"][0],
        "pages": [json.loads((RESOURCES / "fred" / "observations_GDPC1.json").read_text())],
    }
    observations = [
        *wb.transform_data(wb_query, wb_pages).records,
        *imf.transform_data(imf_query, imf_raw).records,
        *fred.transform_data(fred_query, fred_raw).records,
    ]

    frame = align(observations, "Q", "mean")

    assert list(frame.columns) == ["FRED:GDPC1", "IMF:IFS:M.US.PCPI_IX", "WB:USA:NY.GDP.MKTP.CD"]
    assert frame.index[0] == pd.Timestamp("2019-12-31", tz="UTC")
    assert frame.index[-1] == pd.Timestamp("2022-12-31", tz="UTC")
    q1 = frame.loc["2020-03-31"]
    assert q1["FRED:GDPC1"] == pytest.approx(20693.238)
    assert q1["IMF:IFS:M.US.PCPI_IX"] == pytest.approx((118.936442584894 + 119.253016407491) / 2)
    assert math.isnan(q1["WB:USA:NY.GDP.MKTP.CD"])
    assert frame.loc["2020-12-31", "WB:USA:NY.GDP.MKTP.CD"] == pytest.approx(21354105000000)


def _world_bank(indicator: str, *dated: tuple[str, float]) -> list[MacroObservation]:
    fetcher = WorldBankIndicatorFetcher()
    query = fetcher.transform_query({"indicator": indicator, "countries": ["USA"]})
    rows = [
        {
            "indicator": {"id": indicator},
            "country": {"id": "US"},
            "countryiso3code": "USA",
            "date": day,
            "value": value,
        }
        for day, value in dated
    ]
    page = [{"page": 1, "pages": 1, "lastupdated": "2024-06-01"}, rows]
    return list(fetcher.transform_data(query, [page]).records)


def _imf(frequency: str, *dated: tuple[str, float]) -> list[MacroObservation]:
    fetcher = ImfCompactDataFetcher()
    query = fetcher.transform_query({"indicator": "X"})
    series = {
        "@FREQ": frequency,
        "@REF_AREA": "US",
        "@INDICATOR": "X",
        "Obs": [{"@TIME_PERIOD": day, "@OBS_VALUE": str(value)} for day, value in dated],
    }
    payload = {"CompactData": {"DataSet": {"Series": series}}}
    return list(fetcher.transform_data(query, {"fetched_at": KNOWN, "payload": payload}).records)


def _fred(series_id: str, frequency: str, *dated: tuple[str, float]) -> list[MacroObservation]:
    fetcher = FredSeriesObservationsFetcher()
    query = fetcher.transform_query({"series_id": series_id})
    rows = [{"date": day, "realtime_start": "2024-06-01", "value": str(v)} for day, v in dated]
    raw = {"series": {"frequency_short": frequency}, "pages": [{"observations": rows}]}
    return list(fetcher.transform_data(query, raw).records)


def test_world_bank_and_imf_periods_of_each_frequency_land_in_fred_s_periods() -> None:
    """Provider output (period = start of period) for World Bank ``2023``/``2023Q2``/
    ``2023M05`` and IMF SDMX ``2023``/``2023-Q2``/``2023-05``, next to FRED monthly, quarterly,
    weekly (dated by the week's last day) and daily series."""
    observations = [
        *_world_bank("WB.A", ("2023", 100.0)),
        *_world_bank("WB.Q", ("2023Q2", 20.0)),
        *_world_bank("WB.M", ("2023M05", 5.0)),
        *_imf("A", ("2023", 1000.0)),
        *_imf("Q", ("2023-Q2", 2.0)),
        *_imf("M", ("2023-05", 0.5)),
        *_fred("CPI", "M", ("2023-05-01", 305.0), ("2023-06-01", 306.0)),
        *_fred("GDP", "Q", ("2023-04-01", 22.0)),
        # weeks ending Saturday; the one ending 2023-07-01 (June 25 - July 1) is July's
        *_fred("ICSA", "W", ("2023-06-24", 7.0), ("2023-07-01", 8.0)),
        *_fred("DGS10", "D", ("2023-06-30", 3.8), ("2023-06-29", 3.9)),
    ]
    assert {o.frequency for o in observations} == {"A", "Q", "M", "W", "D"}

    monthly = align(observations, "M", "ffill").loc["2023-04-30":"2023-07-31"]
    assert monthly.index.strftime("%Y-%m-%d").tolist() == [
        "2023-04-30",
        "2023-05-31",
        "2023-06-30",
        "2023-07-31",
    ]
    nan = math.nan
    expected = {
        "WB:USA:WB.A": [100.0] * 4,
        "WB:USA:WB.Q": [20.0, 20.0, 20.0, nan],
        "WB:USA:WB.M": [nan, 5.0, nan, nan],
        "IMF:IFS:A.US.X": [1000.0] * 4,
        "IMF:IFS:Q.US.X": [2.0, 2.0, 2.0, nan],
        "IMF:IFS:M.US.X": [nan, 0.5, nan, nan],
        "FRED:CPI": [nan, 305.0, 306.0, nan],
        "FRED:GDP": [22.0, 22.0, 22.0, nan],
        "FRED:ICSA": [nan, nan, 7.0, 8.0],
        "FRED:DGS10": [nan, nan, 3.8, nan],
    }
    for series_id, values in expected.items():
        assert monthly[series_id].tolist() == pytest.approx(values, nan_ok=True), series_id

    quarterly = align(observations, "Q", "mean").loc["2023-06-30"]
    assert quarterly["WB:USA:WB.M"] == 5.0 and quarterly["IMF:IFS:M.US.X"] == 0.5
    assert quarterly["WB:USA:WB.Q"] == 20.0 and quarterly["IMF:IFS:Q.US.X"] == 2.0
    assert quarterly["FRED:CPI"] == pytest.approx(305.5)
    assert quarterly["FRED:DGS10"] == pytest.approx(3.85)
    assert math.isnan(quarterly["WB:USA:WB.A"])  # placed at 2023-12-31 without ffill
    annual = align(observations, "A", "last").loc["2023-12-31"]
    assert annual["WB:USA:WB.A"] == 100.0 and annual["IMF:IFS:A.US.X"] == 1000.0
    assert annual["FRED:ICSA"] == 8.0 and annual["FRED:DGS10"] == 3.8


def test_a_series_stored_at_two_frequencies_takes_the_one_learned_last() -> None:
    """2023 annual and 2023 H2 end on the same day: the value learned later is the latest."""
    both = [
        obs("X", utc(2023, 7, 1), "SA", 2.0, known=utc(2024, 2, 1)),
        obs("X", utc(2023, 1, 1), "A", 1.0, known=utc(2024, 3, 1)),
    ]
    for ordered in (both, both[::-1]):
        assert align(ordered, "A").loc["2023-12-31", "X"] == 1.0
    assert align(both, "A", as_of=utc(2024, 2, 15)).loc["2023-12-31", "X"] == 2.0


def test_periods_before_1677_and_a_long_daily_series() -> None:
    """Old annual series (FRED keeps some from the 1200s) and ~60 years of days."""
    old = [obs("UK:CPI", utc(1209, 1, 1), "A", 1.0), obs("UK:CPI", utc(1210, 1, 1), "A", 2.0)]
    frame = align(old, "A")
    assert frame.index[0].year == 1209 and frame["UK:CPI"].tolist() == [1.0, 2.0]

    days = pd.date_range("1962-01-02", "2023-12-29", freq="B", tz="UTC")
    rows = pd.DataFrame(
        {
            "series_id": "FRED:DGS10",
            "period": days,
            "frequency": "D",
            "value": range(len(days)),
            "ts_known": pd.Timestamp("2024-01-01", tz="UTC"),
            "revision": 0,
        }
    )
    monthly = align_rows(rows, "M", "mean")
    assert len(monthly) == 62 * 12
    december = [i for i, day in enumerate(days) if day.year == 2023 and day.month == 12]
    assert monthly["FRED:DGS10"].iloc[-1] == pytest.approx(sum(december) / len(december))


def test_bad_arguments_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="target_frequency"):
        align(MIXED, "W")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="method"):
        align(MIXED, "M", "median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="naive"):
        align(MIXED, "M", as_of=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="frequency 'X'"):
        align([obs("S", utc(2024, 1, 1), "X", 1.0)], "M")
    with pytest.raises(ValueError, match="columns"):
        align_rows(pd.DataFrame({"series_id": ["S"]}), "M")
    empty = align([], "Q")
    assert empty.empty and isinstance(empty.index, pd.DatetimeIndex)
