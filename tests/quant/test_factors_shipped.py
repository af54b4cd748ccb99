"""The factor data shipped for each model: the five-factor file checked against two independent
copies of Kenneth French's numbers (arch and linearmodels), the momentum data, and the
catalog the API reads."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from importlib import resources

import pandas as pd
import pytest

from sextant_quant.factors import (
    Carhart4,
    FamaFrench3,
    FamaFrench5,
    ShippedModel,
    factor_data,
    load_shipped_carhart_monthly,
    load_shipped_ff3_monthly,
    load_shipped_ff5_monthly,
)
from sextant_quant.factors.french import FF5_FILE


def mismatches(ours: pd.Series, theirs: pd.Series) -> pd.Series:
    """Absolute differences (fractions) on the common months, rounded to the files' 0.01%."""
    common = ours.index.intersection(theirs.index)
    return (ours.loc[common] - theirs.loc[common]).abs().round(6)


def test_ff5_file_is_the_checked_copy() -> None:
    raw = resources.files("sextant_quant.factors").joinpath("data", FF5_FILE).read_bytes()
    # the sha256 its README records: changing the file means checking it again
    assert hashlib.sha256(raw).hexdigest() == (
        "1230252fde475579b3686b5b9a5c1cbf83f23479b2c61c34900291c0e0ac4ccc"
    )
    ff5 = load_shipped_ff5_monthly()
    assert list(ff5.columns) == ["Mkt-RF", "SMB", "HML", "RMW", "CMA", "RF"]
    assert (ff5.index[0], ff5.index[-1], len(ff5)) == (
        pd.Timestamp("1963-07-31"),
        pd.Timestamp("2021-01-31"),
        691,
    )
    assert ff5.notna().all().all()
    assert "202101 CRSP database" in ff5.attrs["description"]
    # first data row of the file: "196307, -0.39, -0.45, -0.94, 0.66, -1.15, 0.27" (percent)
    assert ff5.iloc[0].tolist() == pytest.approx(
        [-0.0039, -0.0045, -0.0094, 0.0066, -0.0115, 0.0027]
    )


@pytest.mark.parametrize(
    ("other", "months", "differing"),
    [
        (load_shipped_ff3_monthly, 665, 13),  # arch: 1963-07..2018-11
        (load_shipped_carhart_monthly, 645, 30),  # linearmodels: 1963-07..2017-03
    ],
)
def test_ff5_market_and_risk_free_equal_independent_copies(
    other: Callable[[], pd.DataFrame], months: int, differing: int
) -> None:
    ff5, theirs = load_shipped_ff5_monthly(), other()
    rf = mismatches(ff5["RF"], theirs["RF"])
    market = mismatches(ff5["Mkt-RF"], theirs["Mkt-RF"])
    print(
        f"\nFF5 vs {other.__name__}: {len(rf)} months, RF max |diff| {rf.max():.4%}, "
        f"Mkt-RF max |diff| {market.max():.4%} in {int((market > 0).sum())} months"
    )
    assert len(rf) == len(market) == months
    assert rf.max() == 0.0
    # CRSP vintage revisions of the market return: a few hundredths of a percent, rarely
    assert market.max() <= 0.0003
    assert int((market > 0).sum()) == differing


def test_carhart_data_has_momentum_in_fractions() -> None:
    carhart = load_shipped_carhart_monthly()
    assert list(carhart.columns) == ["Mkt-RF", "SMB", "HML", "Mom", "RF"]
    assert (carhart.index[0], carhart.index[-1], len(carhart)) == (
        pd.Timestamp("1949-01-31"),
        pd.Timestamp("2017-03-31"),
        819,
    )
    # 2015-07 momentum, as in French's F-F_Momentum_Factor file: 10.24 percent
    assert carhart.loc["2015-07-31", "Mom"] == pytest.approx(0.1024)
    assert mismatches(carhart["Mkt-RF"], load_shipped_ff3_monthly()["Mkt-RF"]).max() <= 0.0003


@pytest.mark.parametrize(
    ("name", "model", "span"),
    [
        ("ff3", FamaFrench3, "1926-07-01..2018-11-30"),
        ("ff5", FamaFrench5, "1963-07-01..2021-01-31"),
        ("carhart", Carhart4, "1949-01-01..2017-03-31"),
    ],
)
def test_catalog_pairs_each_model_with_its_data(name: ShippedModel, model: type, span: str) -> None:
    data = factor_data(name)
    assert data.model is model
    assert list(data.returns.columns) == [*model.default_factors, "RF"]
    assert data.span == span
    assert "Kenneth French" in data.source


def test_catalog_refuses_unknown_models() -> None:
    with pytest.raises(ValueError, match="unknown factor model 'ff7'; known: ff3, ff5, carhart"):
        factor_data("ff7")
