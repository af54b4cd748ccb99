"""The Kenneth French parser on wire-format fixtures (tests/resources/french/) and edge cases."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sextant_quant.factors import load_shipped_ff3_monthly, parse_french_csv, parse_french_zip

FIXTURES = Path(__file__).resolve().parents[1] / "resources" / "french"


def load(name: str) -> dict[str, pd.DataFrame]:
    return parse_french_zip((FIXTURES / name).read_bytes())


def test_three_factor_file_has_monthly_and_annual_tables_in_fractions() -> None:
    tables = load("F-F_Research_Data_Factors_CSV.zip")
    assert list(tables) == ["monthly", "annual"]
    monthly, annual = tables["monthly"], tables["annual"]
    assert list(monthly.columns) == ["Mkt-RF", "SMB", "HML", "RF"]
    assert monthly.shape == (35, 4) and annual.shape == (2, 4)
    assert monthly.index[0] == pd.Timestamp("2016-01-31")
    assert monthly.index[1] == pd.Timestamp("2016-02-29")  # period end, leap year
    assert monthly.index[-1] == pd.Timestamp("2018-11-30")
    assert monthly.index.name == "date" and monthly.index.is_monotonic_increasing
    # the fixture row 201810 reads "-7.68, -4.68, 3.41, 0.19" (percent)
    np.testing.assert_allclose(
        monthly.loc["2018-10-31"].to_numpy(), [-0.0768, -0.0468, 0.0341, 0.0019], atol=1e-15
    )
    assert list(annual.index) == [pd.Timestamp("2016-12-31"), pd.Timestamp("2017-12-31")]
    assert annual.loc["2016-12-31", "Mkt-RF"] == pytest.approx(0.1329)
    assert annual.attrs["title"] == "Annual Factors: January-December"
    assert "CMPT_ME_BEME_RETS" in monthly.attrs["description"]


def test_monthly_fixture_values_are_the_shipped_ff3_values() -> None:
    monthly = load("F-F_Research_Data_Factors_CSV.zip")["monthly"]
    shipped = load_shipped_ff3_monthly().loc[monthly.index]
    pd.testing.assert_frame_equal(monthly, shipped, check_exact=False, atol=1e-12, check_freq=False)


def test_five_factor_momentum_and_daily_files() -> None:
    five = load("F-F_Research_Data_5_Factors_2x3_CSV.zip")
    assert list(five) == ["monthly", "annual"]
    assert list(five["monthly"].columns) == ["Mkt-RF", "SMB", "HML", "RMW", "CMA", "RF"]
    assert five["monthly"].shape == (23, 6)

    mom = load("F-F_Momentum_Factor_CSV.zip")
    assert list(mom["monthly"].columns) == ["Mom"]  # header ",Mom   " has trailing spaces
    assert mom["monthly"].loc["2015-07-31", "Mom"] == pytest.approx(0.1024)
    assert mom["annual"].attrs["title"] == "Annual Factors: January-December"
    assert "Missing data" in mom["monthly"].attrs["description"]

    daily = load("F-F_Research_Data_Factors_daily_CSV.zip")
    assert list(daily) == ["daily"]
    frame = daily["daily"]
    assert frame.shape == (21, 4)
    assert frame.index[0] == pd.Timestamp("2018-11-01")
    assert pd.Timestamp("2018-11-22") not in frame.index  # Thanksgiving
    assert frame["RF"].iloc[0] == pytest.approx(0.00008)


def test_missing_markers_lf_endings_and_repeated_frequencies() -> None:
    text = (
        "Average Value Weighted Returns\n"
        "\n"
        "  Average Value Weighted Returns -- Monthly\n"
        ",Lo 30,Hi 30,\n"
        "201801,  1.00, -99.99,\n"
        "201802, -999,    2.50,\n"
        "\n"
        "  Average Equal Weighted Returns -- Monthly\n"
        ",Lo 30,Hi 30\n"
        "201801,  0.50,  0.25\n"
        "\n"
        "Copyright 2018 Kenneth R. French\n"
    )
    tables = parse_french_csv(text)
    assert list(tables) == [
        "monthly: Average Value Weighted Returns -- Monthly",
        "monthly: Average Equal Weighted Returns -- Monthly",
    ]
    vw = tables["monthly: Average Value Weighted Returns -- Monthly"]
    assert list(vw.columns) == ["Lo 30", "Hi 30"]
    assert vw.loc["2018-01-31", "Lo 30"] == pytest.approx(0.01)
    assert np.isnan(vw.loc["2018-01-31", "Hi 30"]) and np.isnan(vw.loc["2018-02-28", "Lo 30"])


def test_weekly_dates_are_recognized() -> None:
    text = ",Mkt-RF\n20180105, 1.0\n20180112, 2.0\n20180119, 3.0\n"
    assert list(parse_french_csv(text)) == ["weekly"]


def test_bad_files_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="not a ZIP archive"):
        parse_french_zip(b"<html>Service unavailable</html>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.CSV", ",x\n201801,1\n")
        archive.writestr("b.CSV", ",x\n201801,1\n")
    with pytest.raises(ValueError, match="expected one CSV in the archive, found 2"):
        parse_french_zip(buffer.getvalue())
    with pytest.raises(ValueError, match="not a Kenneth French data file"):
        parse_french_csv("date,value\n2018-01-31,1.0\n")
    with pytest.raises(ValueError, match="line 3: 1 values for 2 columns"):
        parse_french_csv("header\n,A,B\n201801, 1.0\n")
    with pytest.raises(ValueError, match="line 3: non-numeric"):
        parse_french_csv("header\n,A\n201801, abc\n")
    with pytest.raises(ValueError, match="line 1: data row outside a table"):
        parse_french_csv("201801, 1.0\n")
    with pytest.raises(ValueError, match="mixes date formats"):
        parse_french_csv(",A\n201801, 1.0\n20180201, 1.0\n")


def test_shipped_ff3_loader() -> None:
    ff3 = load_shipped_ff3_monthly()
    assert list(ff3.columns) == ["Mkt-RF", "SMB", "HML", "RF"]
    assert ff3.index[0] == pd.Timestamp("1926-07-31")
    assert ff3.index[-1] == pd.Timestamp("2018-11-30")
    assert len(ff3) == 1109 and ff3.notna().all().all()
    assert ff3.loc["1926-07-31", "Mkt-RF"] == pytest.approx(0.0296)
