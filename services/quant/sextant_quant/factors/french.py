"""Kenneth French data library files, parsed from the bytes of their ZIP downloads.

A ``*_CSV.zip`` holds one CSV: description lines, then tables. Each table is a header row that
starts with a comma (",Mkt-RF,SMB,HML,RF"), rows keyed by an integer date (YYYYMMDD daily and
weekly, YYYYMM monthly, YYYY annual) with values in percent, and a blank line. Tables after the
first are preceded by a title such as " Annual Factors: January-December "; the file ends with
a copyright line. Missing values are written -99.99 or -999.

Fetching the files is the ingest service's job; this module only parses bytes. It also loads the
monthly factor files that ship offline: Fama-French 3 inside ``arch``, Fama-French 3 with momentum
inside ``linearmodels``, and Fama-French 5 in this package's ``data`` folder (see its README).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from importlib import resources

import numpy as np
import pandas as pd

MISSING_MARKERS = (-99.99, -999.0)
FF5_FILE = "F-F_Research_Data_5_Factors_2x3.CSV"
"""Kenneth French's monthly five-factor file (CRSP 202101 vintage), shipped in ``data/``."""
_DATE_KEY = re.compile(r"^\d{4}(\d{2}(\d{2})?)?$")


@dataclass
class _Table:
    title: str
    columns: list[str]
    first_line: int
    keys: list[str] = field(default_factory=list)
    rows: list[list[float]] = field(default_factory=list)


def parse_french_zip(data: bytes) -> dict[str, pd.DataFrame]:
    """Parse a Kenneth French ``*_CSV.zip`` download holding one CSV; see ``parse_french_csv``
    for the result. Raises ValueError when the bytes are not a ZIP or hold no single CSV."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        head = data[:40]
        raise ValueError(f"not a ZIP archive (starts with {head!r}); expected a *_CSV.zip") from exc
    with archive:
        members = [n for n in archive.namelist() if n.lower().endswith((".csv", ".txt"))]
        if len(members) != 1:
            raise ValueError(
                f"expected one CSV in the archive, found {len(members)}: {archive.namelist()}"
            )
        raw = archive.read(members[0])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return parse_french_csv(text)


def parse_french_csv(text: str) -> dict[str, pd.DataFrame]:
    """Parse the text of a Kenneth French CSV into one DataFrame per table.

    Values become fractions (percent / 100); -99.99 and -999 become NaN. Each index is the
    period-end date of its row (naive ``DatetimeIndex`` named "date"): the day itself for daily
    and weekly rows, the month's last day for YYYYMM, December 31 for YYYY. Tables are keyed by
    frequency ("daily", "weekly", "monthly", "annual"); when a file has several tables of one
    frequency (portfolio files), each of those is keyed "<frequency>: <title>" instead. Every
    frame carries ``attrs["title"]`` and ``attrs["description"]`` (the file's opening text).
    Raises ValueError naming the line of any malformed row.
    """
    tables: list[_Table] = []
    paragraphs: list[list[str]] = [[]]  # text lines since the last table, split at blank lines
    description: str | None = None
    current: _Table | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            current = None
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        cells = [c.strip() for c in stripped.split(",")]
        if stripped.startswith(","):
            columns = cells[1:]
            while columns and not columns[-1]:
                columns.pop()
            texts = [" ".join(p) for p in paragraphs if p]
            if description is None:
                # the opening paragraphs describe the file; a last one touching the header
                # (no blank line between) titles the first table, as in portfolio files
                titled = len(texts) > 1 and bool(paragraphs[-1])
                description = " ".join(texts[:-1] if titled else texts)
                title = texts[-1] if titled else ""
            else:
                title = " ".join(texts)
            current = _Table(title=title, columns=columns, first_line=number)
            tables.append(current)
            paragraphs = [[]]
        elif _DATE_KEY.match(cells[0]) and len(cells) > 1:
            if current is None:
                raise ValueError(f"line {number}: data row outside a table: {stripped[:60]!r}")
            values = cells[1 : len(current.columns) + 1]
            extra = [c for c in cells[len(current.columns) + 1 :] if c]
            if len(values) != len(current.columns) or extra:
                raise ValueError(
                    f"line {number}: {len(cells) - 1} values for {len(current.columns)} columns "
                    f"({', '.join(current.columns)})"
                )
            try:
                current.rows.append([float(v) for v in values])
            except ValueError as exc:
                raise ValueError(f"line {number}: non-numeric value in {stripped[:60]!r}") from exc
            current.keys.append(cells[0])
        else:
            current = None
            paragraphs[-1].append(stripped)
    tables = [t for t in tables if t.rows]
    if not tables:
        raise ValueError(
            "not a Kenneth French data file: no table (a header row starting with ',' followed "
            "by date-keyed rows) found"
        )
    frames = [(_frequency(t), _frame(t, description or "")) for t in tables]
    counts: dict[str, int] = {}
    for freq, _ in frames:
        counts[freq] = counts.get(freq, 0) + 1
    out: dict[str, pd.DataFrame] = {}
    for freq, frame in frames:
        key = freq if counts[freq] == 1 else f"{freq}: {frame.attrs['title']}"
        if key in out:
            raise ValueError(f"two {freq} tables share the title {frame.attrs['title']!r}")
        out[key] = frame
    return out


def load_shipped_ff3_monthly() -> pd.DataFrame:
    """Monthly Fama-French 3 factors shipped offline with ``arch`` (``arch.data.frenchdata``):
    columns Mkt-RF, SMB, HML, RF as fractions, indexed by month-end date, 1926-07..2018-11."""
    from arch.data import frenchdata

    raw = frenchdata.load()
    # arch stores the YYYYMM integer as nanoseconds since the epoch
    keys = np.asarray(pd.DatetimeIndex(raw.index).as_unit("ns").asi8)
    index = pd.DatetimeIndex(
        pd.to_datetime({"year": keys // 100, "month": keys % 100, "day": 1})
        + pd.offsets.MonthEnd(0),
        name="date",
    )
    frame = pd.DataFrame(raw.to_numpy(dtype=float) / 100.0, index=index, columns=raw.columns)
    frame.attrs["title"] = "Fama/French 3 Factors, monthly (arch.data.frenchdata)"
    return frame


def load_shipped_ff5_monthly() -> pd.DataFrame:
    """Monthly Fama-French 5 factors (2x3) shipped in this package (``data/``, CRSP 202101
    vintage): columns Mkt-RF, SMB, HML, RMW, CMA, RF as fractions, indexed by month-end date,
    1963-07..2021-01."""
    text = resources.files(__package__).joinpath("data", FF5_FILE).read_text(encoding="ascii")
    frame = parse_french_csv(text)["monthly"]
    frame.attrs["title"] = f"Fama/French 5 Factors (2x3), monthly ({FF5_FILE})"
    return frame


def load_shipped_carhart_monthly() -> pd.DataFrame:
    """Monthly Fama-French 3 factors and momentum shipped offline with ``linearmodels``
    (``linearmodels.datasets.french``): columns Mkt-RF, SMB, HML, Mom, RF as fractions, indexed
    by month-end date, 1949-01..2017-03."""
    from linearmodels.datasets import french

    raw = french.load()
    index = pd.DatetimeIndex(raw["dates"], name="date") + pd.offsets.MonthEnd(0)
    columns = {"MktRF": "Mkt-RF", "SMB": "SMB", "HML": "HML", "Mom": "Mom", "RF": "RF"}
    frame = pd.DataFrame(
        raw[list(columns)].to_numpy(dtype=float), index=index, columns=list(columns.values())
    )
    frame.attrs["title"] = "Fama/French 3 Factors and Momentum, monthly (linearmodels)"
    return frame


def _frequency(table: _Table) -> str:
    widths = {len(k) for k in table.keys}
    if len(widths) != 1:
        raise ValueError(
            f"table starting on line {table.first_line} mixes date formats {sorted(widths)}"
        )
    width = widths.pop()
    if width == 4:
        return "annual"
    if width == 6:
        return "monthly"
    if len(table.keys) > 1:
        days = pd.to_datetime(table.keys, format="%Y%m%d").to_series().diff().dt.days.median()
        if days >= 5:
            return "weekly"
    return "daily"


def _frame(table: _Table, description: str) -> pd.DataFrame:
    keys = table.keys
    width = len(keys[0])
    try:
        if width == 8:
            index = pd.to_datetime(keys, format="%Y%m%d")
        elif width == 6:
            index = pd.to_datetime(keys, format="%Y%m") + pd.offsets.MonthEnd(0)
        else:
            index = pd.to_datetime(keys, format="%Y") + pd.offsets.YearEnd(0)
    except ValueError as exc:
        raise ValueError(f"table starting on line {table.first_line}: bad date key: {exc}") from exc
    values = np.asarray(table.rows, dtype=float)
    values[np.isin(values, MISSING_MARKERS)] = np.nan
    frame = pd.DataFrame(values / 100.0, index=pd.DatetimeIndex(index, name="date"))
    frame.columns = pd.Index(table.columns)
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()][0]
        raise ValueError(f"table starting on line {table.first_line} repeats the date {dup}")
    frame.attrs["title"] = table.title
    frame.attrs["description"] = description
    return frame
