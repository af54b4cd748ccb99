"""Rebuild the ingest-side edge-case fixtures (``ingest_*``) of this folder; the other files here
belong to the quant parser's fixtures (make_fixtures.py) and are not touched.
Run: .venv/bin/python tests/resources/french/make_ingest_fixtures.py
"""

from __future__ import annotations

import zipfile
from pathlib import Path

HERE = Path(__file__).parent
CRLF = "\r\n"

# Same layout as F-F_Research_Data_Factors.CSV; values are fixture values. One -99.99 (the
# library's missing marker), one non-numeric cell and one short row among good rows.
MISSING = [
    "This file was created by CMPT_ME_BEME_RETS using the 202409 CRSP database.",
    "The 1-month TBill return is from Ibbotson and Associates Inc.",
    "",
    ",Mkt-RF,SMB,HML,RF",
    "202401,    0.71,   -5.09,   -2.38,    0.47",
    "202402,    5.06,   -0.78,   -3.49,    0.42",
    "202403,    2.83,   -1.16,  -99.99,    0.43",
    "202404,   -4.67,   -2.39,    n/a ,    0.47",
    "202405,    4.34,   -0.04",
    "202406,    2.77,   -4.37,   -3.31,    0.41",
    "",
    " Annual Factors: January-December ",
    ",Mkt-RF,SMB,HML,RF",
    "  2023,   21.69,   -3.17,   -6.49,    5.01",
    "",
    "Copyright 2024 Kenneth R. French",
]

DESCRIPTION_ONLY = [
    "This file was created by CMPT_ME_BEME_RETS using the 202409 CRSP database.",
    "",
    "Copyright 2024 Kenneth R. French",
]


def _write(zip_name: str, member: str, lines: list[str]) -> None:
    info = zipfile.ZipInfo(member, date_time=(2024, 10, 31, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(HERE / zip_name, "w") as archive:
        archive.writestr(info, CRLF.join(lines) + CRLF)


def main() -> None:
    _write("ingest_factors_bad_cells_CSV.zip", "F-F_Research_Data_Factors.CSV", MISSING)
    _write("ingest_description_only_CSV.zip", "F-F_Research_Data_Factors.CSV", DESCRIPTION_ONLY)
    (HERE / "ingest_not_a_zip.html").write_text(
        "<!DOCTYPE html><html><head><title>Kenneth R. French - Data Library</title></head>"
        "<body><p>The page you requested could not be found.</p></body></html>\n"
    )


if __name__ == "__main__":
    main()
