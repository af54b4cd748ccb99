"""Backfill universes: CSV files of tickers (``ticker,name,sector,as_of``) and macro series."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from sextant_common.events import INSTRUMENT_ID_PATTERN, AssetClass
from sextant_common.instruments import Instrument

DEFAULT_UNIVERSE = "default"
"""``--universe`` value naming the shipped file ``resources/universe_us_top500.csv``."""
DEFAULT_UNIVERSE_FILE = "universe_us_top500.csv"

MACRO_SERIES: tuple[str, ...] = (
    "GDPC1",  # real GDP, quarterly, billions of chained 2017 dollars
    "CPIAUCSL",  # CPI, all urban consumers, index 1982-84 = 100, monthly
    "PCEPILFE",  # core PCE price index, monthly
    "UNRATE",  # unemployment rate, percent, monthly
    "PAYEMS",  # nonfarm payrolls, thousands, monthly
    "FEDFUNDS",  # effective federal funds rate, percent, monthly
    "DGS2",  # 2-year Treasury constant maturity, percent, daily
    "DGS10",  # 10-year Treasury constant maturity, percent, daily
)
"""FRED series ids the real-provider backfill fetches alongside the equities."""

_REQUIRED = ("ticker", "name")
_ID = re.compile(INSTRUMENT_ID_PATTERN)


@dataclass(frozen=True)
class UniverseMember:
    """One row of a universe file. ``as_of`` is the date the membership was true (ISO text)."""

    ticker: str
    name: str
    sector: str = ""
    as_of: str = ""
    asset_class: AssetClass = AssetClass.EQUITY
    calendar: str = "XNYS"

    def instrument(self) -> Instrument:
        """The instrument this row names (USD, on its calendar)."""
        return Instrument(
            instrument_id=self.ticker,
            asset_class=self.asset_class,
            name=self.name,
            calendar=self.calendar,
        )


def load_universe(spec: str | Path = DEFAULT_UNIVERSE) -> list[UniverseMember]:
    """Members of the universe ``spec``: ``"default"`` (the shipped top-500 file) or a CSV path.

    The CSV needs ``ticker`` and ``name`` columns; ``sector``, ``as_of``, ``asset_class``
    (default ``equity``) and ``calendar`` (default ``XNYS``) are optional. Order is kept;
    blank lines and duplicate tickers are errors that name the line.
    """
    if str(spec) == DEFAULT_UNIVERSE:
        source = "resources/" + DEFAULT_UNIVERSE_FILE
        text = (
            resources.files("sextant_ingest")
            .joinpath("resources", DEFAULT_UNIVERSE_FILE)
            .read_text(encoding="utf-8")
        )
    else:
        path = Path(spec)
        if not path.is_file():
            raise ValueError(f"universe file {path} does not exist (or pass --universe default)")
        source, text = str(path), path.read_text(encoding="utf-8")
    return parse_universe(text, source)


def parse_universe(text: str, source: str = "<universe>") -> list[UniverseMember]:
    """Members of the universe CSV ``text`` (see :func:`load_universe`); ``source`` names it
    in errors."""
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in _REQUIRED if c not in (reader.fieldnames or ())]
    if missing:
        raise ValueError(f"{source}: missing column(s) {missing}; header must include ticker,name")
    members: list[UniverseMember] = []
    seen: dict[str, int] = {}
    for line, row in enumerate(reader, start=2):
        ticker = (row.get("ticker") or "").strip()
        if not _ID.match(ticker):
            raise ValueError(f"{source}:{line}: ticker {ticker!r} is not a valid instrument id")
        if ticker in seen:
            raise ValueError(f"{source}:{line}: ticker {ticker} repeats line {seen[ticker]}")
        seen[ticker] = line
        try:
            asset_class = AssetClass((row.get("asset_class") or "equity").strip())
        except ValueError:
            raise ValueError(
                f"{source}:{line}: asset_class {row.get('asset_class')!r} must be one of "
                f"{[a.value for a in AssetClass]}"
            ) from None
        members.append(
            UniverseMember(
                ticker=ticker,
                name=(row.get("name") or "").strip() or ticker,
                sector=(row.get("sector") or "").strip(),
                as_of=(row.get("as_of") or "").strip(),
                asset_class=asset_class,
                calendar=(row.get("calendar") or "").strip() or "XNYS",
            )
        )
    if not members:
        raise ValueError(f"{source}: the universe has no rows")
    return members
