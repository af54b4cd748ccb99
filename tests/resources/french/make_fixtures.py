"""Rebuild the Kenneth French wire-format fixtures in this folder; README.md says which numbers
are real and which are fixture values.

Run: .venv/bin/python tests/resources/french/make_fixtures.py
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from arch.data import sp500

from sextant_quant.factors.french import load_shipped_ff3_monthly

HERE = Path(__file__).parent
CRLF = "\r\n"

# Momentum (Mom, percent) 2015-01..2016-12 from Kenneth French's library as redistributed in
# the linearmodels wheel (linearmodels/datasets/french/french.csv.bz2).
MOM_2015_2016 = [
    3.76, -2.88, 3.02, -7.41, 5.93, 3.05, 10.24, -2.17, 5.25, -3.91, 2.31, 3.39,
    1.39, -4.12, -5.06, -6.15, 1.89, 4.28, -3.17, -3.16, -0.52, 0.58, -4.16, -0.30,
]  # fmt: skip


def _rows(frame: pd.DataFrame, key_format: str, width: int, decimals: int) -> list[str]:
    out = []
    for date, row in frame.iterrows():
        cells = "".join(f",{v:{width}.{decimals}f}" for v in row.to_numpy())
        out.append(f"{pd.Timestamp(date).strftime(key_format)}{cells}")
    return out


def _annual(frame: pd.DataFrame, years: Iterable[int], width: int) -> list[str]:
    # fixture-derived: each year compounds the fixture's own months
    out = []
    for year in years:
        months = frame.loc[str(year)] / 100.0
        values = ((1.0 + months).prod() - 1.0) * 100.0
        out.append(f"  {year}" + "".join(f",{v:{width}.2f}" for v in values.to_numpy()))
    return out


def _write(zip_name: str, member: str, lines: Sequence[str]) -> None:
    info = zipfile.ZipInfo(member, date_time=(2018, 12, 31, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(HERE / zip_name, "w") as archive:
        archive.writestr(info, CRLF.join(lines) + CRLF)


def main() -> None:
    ff3 = (load_shipped_ff3_monthly() * 100.0).round(2)
    rng = np.random.default_rng(20181130)

    monthly = ff3.loc["2016-01":"2018-11"]
    _write(
        "F-F_Research_Data_Factors_CSV.zip",
        "F-F_Research_Data_Factors.CSV",
        [
            "This file was created by CMPT_ME_BEME_RETS using the 201811 CRSP database.",
            "The 1-month TBill return is from Ibbotson and Associates, Inc.",
            "",
            ",Mkt-RF,SMB,HML,RF",
            *_rows(monthly, "%Y%m", 8, 2),
            "",
            " Annual Factors: January-December ",
            ",Mkt-RF,SMB,HML,RF",
            *_annual(monthly, (2016, 2017), 8),
            "",
            "Copyright 2018 Kenneth R. French",
        ],
    )

    five = ff3.loc["2017-01":"2018-11", ["Mkt-RF", "RF"]].copy()
    fake = rng.normal(0.0, 1.5, size=(len(five), 4)).round(2)
    for i, name in enumerate(["SMB", "HML", "RMW", "CMA"]):
        five[name] = fake[:, i]
    five = five[["Mkt-RF", "SMB", "HML", "RMW", "CMA", "RF"]]
    _write(
        "F-F_Research_Data_5_Factors_2x3_CSV.zip",
        "F-F_Research_Data_5_Factors_2x3.CSV",
        [
            "This file was created by CMPT_ME_BEME_OP_INV_RETS using the 201811 CRSP database.",
            "The 1-month TBill return is from Ibbotson and Associates Inc.",
            "",
            ",Mkt-RF,SMB,HML,RMW,CMA,RF",
            *_rows(five, "%Y%m", 8, 2),
            "",
            " Annual Factors: January-December ",
            ",Mkt-RF,SMB,HML,RMW,CMA,RF",
            *_annual(five, (2017,), 8),
            "",
            "Copyright 2018 Kenneth R. French",
        ],
    )

    mom = pd.DataFrame(
        {"Mom": MOM_2015_2016},
        index=pd.date_range("2015-01-31", periods=24, freq="ME"),
    )
    _write(
        "F-F_Momentum_Factor_CSV.zip",
        "F-F_Momentum_Factor.CSV",
        [
            "This file was created by CMPT_ME_PRIOR_RETS using the 201612 CRSP database.  It",
            "contains a momentum factor, constructed from six value-weight portfolios formed",
            "using independent sorts on size and prior return of NYSE, AMEX, and NASDAQ stocks.",
            "Mom    is the average of the returns on two (big and small) high prior return "
            "portfolios",
            "minus the average of the returns on two low prior return portfolios.  The portfolios",
            "are constructed monthly.  Big means a firm is above the median market cap on the NYSE",
            "at the end of the previous month; small firms are below the median NYSE market cap.",
            "Prior return is measured from month -12 to - 2.  Firms in the low prior return",
            "portfolio are below the 30th NYSE percentile.  Those in the high portfolio are above",
            "the 70th NYSE percentile.",
            "",
            "Missing data are indicated by -99.99 or -999.",
            "",
            ",Mom   ",
            *_rows(mom, "%Y%m", 7, 2),
            "",
            "Annual Factors:",
            "January-December ",
            ",Mom   ",
            *_annual(mom, (2015, 2016), 7),
            "",
            "Copyright 2016 Kenneth R. French",
        ],
    )

    close = sp500.load()["Close"].loc["2018-10-31":"2018-11-30"]
    daily = (close.pct_change().dropna() * 100.0).to_frame("Mkt")
    rf = 0.008
    daily["Mkt-RF"] = (daily["Mkt"] - rf).round(2)
    daily["SMB"] = rng.normal(0.0, 0.4, len(daily)).round(2)
    daily["HML"] = rng.normal(0.0, 0.4, len(daily)).round(2)
    body = [
        f"{d.strftime('%Y%m%d')},{r['Mkt-RF']:8.2f},{r['SMB']:8.2f},{r['HML']:8.2f},{rf:8.3f}"
        for d, r in daily.iterrows()
    ]
    _write(
        "F-F_Research_Data_Factors_daily_CSV.zip",
        "F-F_Research_Data_Factors_daily.CSV",
        [
            "This file was created by CMPT_ME_BEME_RETS_DAILY using the 201811 CRSP database.",
            "The Tbill return is the simple daily rate that, over the number of trading days",
            "in the month, compounds to 1-month TBill rate from Ibbotson and Associates Inc.",
            "",
            ",Mkt-RF,SMB,HML,RF",
            *body,
            "",
            "Copyright 2018 Kenneth R. French",
        ],
    )


if __name__ == "__main__":
    main()
