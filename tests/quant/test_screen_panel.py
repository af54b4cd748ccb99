"""The screener's pure core on a seeded panel whose instruments keep different calendars (a
benchmark with holidays, an equity missing days, crypto trading every day, a late listing),
checked against pandas; ranking, filters and the correlation order against their definitions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
from scipy.spatial.distance import squareform

from sextant_quant.screen.correlation import CorrelationMethod, correlate
from sextant_quant.screen.metrics import metrics_at
from sextant_quant.screen.panel import Panel
from sextant_quant.screen.query import parse_filters, parse_sort, rank
from sextant_quant.screen.screener import run_screen
from tests.support import assert_screener_row, screener_reference

DAYS = pd.date_range("2018-01-01", "2021-12-31", freq="D")


def calendars() -> dict[str, pd.DatetimeIndex]:
    weekdays = DAYS[DAYS.day_of_week < 5]
    return {
        "BENCH": weekdays.delete([3, 40, 41, 300]),  # holidays
        "AAA": weekdays.delete([5, 100, 101, 700]),
        "CRYPTO": DAYS,
        "LATE": weekdays[weekdays >= "2021-06-01"],
    }


@pytest.fixture(scope="module")
def market() -> tuple[Panel, dict[str, pd.DataFrame]]:
    rng = np.random.default_rng(5)
    frames, tables = {}, []
    for symbol, days in calendars().items():
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, len(days))))
        volume = rng.uniform(1e5, 1e6, len(days))
        frames[symbol] = pd.DataFrame({"close": close, "volume": volume}, index=days)
        tables.append(
            pa.table(
                {
                    "instrument_id": [symbol] * len(days),
                    "source": ["simulated" if symbol == "CRYPTO" else "test"] * len(days),
                    "asset_class": ["crypto" if symbol == "CRYPTO" else "equity"] * len(days),
                    "ts_event": pa.array(days.tz_localize("UTC"), pa.timestamp("us", tz="UTC")),
                    "close": close,
                    "volume": volume,
                }
            )
        )
    return Panel.from_arrow(pa.concat_tables(tables)), frames


@pytest.mark.parametrize("as_of", ["2019-01-06", "2021-06-30", "2021-12-31", "2030-01-01"])
def test_every_metric_equals_pandas_on_mixed_calendars(
    market: tuple[Panel, dict[str, pd.DataFrame]], as_of: str
) -> None:
    panel, frames = market
    values = metrics_at(panel, panel.row_on_or_before(np.datetime64(as_of)), panel.index["BENCH"])
    bench = frames["BENCH"]["close"].loc[:as_of]
    for symbol, frame in frames.items():
        column = panel.index[symbol]
        got = {k: float(v[column]) for k, v in values.items()}
        expected = screener_reference(frame.loc[:as_of], bench)
        row = {"symbol": symbol, **{k: None if np.isnan(v) else v for k, v in got.items()}}
        assert_screener_row(row, expected)


def test_a_screen_ranks_nulls_last_and_keeps_only_what_passes(
    market: tuple[Panel, dict[str, pd.DataFrame]],
) -> None:
    panel, _ = market
    day = np.datetime64("2021-08-31")
    everything = run_screen(panel, day, "BENCH", [], parse_sort("-ret_6m", ["ret_6m"]), 10)
    assert [r["symbol"] for r in everything.rows][-1] == "LATE"  # too young for ret_6m: null
    assert np.isnan(everything.rows[-1]["ret_6m"])
    known = [r["ret_6m"] for r in everything.rows[:-1]]
    assert known == sorted(known, reverse=True)
    crypto = next(r for r in everything.rows if r["symbol"] == "CRYPTO")
    assert crypto["simulated"] is True and crypto["asset_class"] == "crypto"
    assert crypto["last_date"] == "2021-08-31"
    filters = parse_filters(["vol_60d>0, ret_6m<=1e9"], ["vol_60d", "ret_6m"])
    kept = run_screen(panel, day, None, filters, parse_sort("symbol", []), 2)
    assert (kept.universe, kept.matched) == (4, 3) and [r["symbol"] for r in kept.rows] == [
        "AAA",
        "BENCH",
    ]


def test_rank_breaks_ties_by_symbol_either_way() -> None:
    values = {"m": np.array([1.0, np.nan, 1.0, 2.0])}
    symbols = ["D", "A", "C", "B"]
    everyone = np.ones(4, dtype=bool)
    down, _ = rank(values, symbols, everyone, [], parse_sort("-m", ["m"]))
    up, _ = rank(values, symbols, everyone, [], parse_sort("m", ["m"]))
    assert [symbols[i] for i in down] == ["B", "C", "D", "A"]
    assert [symbols[i] for i in up] == ["C", "D", "B", "A"]


@pytest.mark.parametrize("method", ["pearson", "spearman"])
def test_correlations_on_common_dates_and_the_scipy_order(
    market: tuple[Panel, dict[str, pd.DataFrame]], method: CorrelationMethod
) -> None:
    panel, frames = market
    symbols = ["CRYPTO", "BENCH", "AAA"]
    result = correlate(panel, symbols, np.datetime64("2021-03-31"), 300, method)
    closes = pd.concat([frames[s]["close"].rename(s) for s in symbols], axis=1, join="inner")
    returns = closes.loc[:"2021-03-31"].pct_change().dropna().iloc[-300:]
    expected = returns.corr(method=method).to_numpy()
    np.testing.assert_allclose(result.matrix, expected, rtol=1e-12, atol=1e-14)
    assert result.window.dates[-1] == "2021-03-31"
    distance = squareform(np.clip(1 - expected, 0, None), checks=False)
    tree = optimal_leaf_ordering(linkage(distance, method="average"), distance)
    assert result.order.tolist() == leaves_list(tree).tolist()
