"""Kenneth French data library (keyless): Fama-French and momentum factor returns.

One dataset, ``factors``: ``GET {base}/{file}_CSV.zip`` for one of :data:`FILES`. The zip holds
one CSV: description lines, a header row starting with a comma (``,Mkt-RF,SMB,HML,RF``), rows
keyed ``YYYYMMDD`` (daily files) or ``YYYYMM`` (monthly) in percent, then for monthly files a
blank line, an ``Annual Factors: January-December`` heading and ``YYYY`` rows, and a copyright
line. Missing values are ``-99.99`` or ``-999``.
Docs: https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/data_library.html

The parser here is the ingest side's own (services share nothing); ``sextant_quant.factors``
has the research-side one. A table's frequency comes from its row keys (8, 6 or 4 digits), not
from the heading, so the momentum file's two-line heading needs no special case.

Normalization: one MacroObservation per factor and period, ``value`` a fraction (percent / 100),
``period`` the start of the day/month/year, ``source`` "french". ``series_id`` is
``FF:<factor>`` plus ``.5F`` for the five-factor file (its SMB and HML differ from the
three-factor ones) and ``.D``/``.A`` for daily/annual rows, so no two tables share an id:
``FF:Mkt-RF`` (monthly, three-factor file), ``FF:Mkt-RF.D``, ``FF:Mkt-RF.A``, ``FF:SMB.5F``,
``FF:Mom``. Point in time: the files are rewritten in place (CRSP vintage) with no history,
so ``ts_known`` is the fetch time and ``revision`` 0.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator

from sextant_common.events import MacroObservation
from sextant_ingest.providers._common import ModelFetcher, error_message
from sextant_ingest.providers.errors import MalformedResponse, NoData
from sextant_ingest.providers.fetcher import (
    DataKind,
    Fetcher,
    ProviderInfo,
    RateLimit,
    Reject,
    Transformed,
)
from sextant_ingest.providers.http import ProviderHttp, utc_now

PROVIDER = ProviderInfo(
    name="french",
    base_url="https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/ftp",
    kinds=frozenset({DataKind.MACRO}),
    rate_limit=RateLimit(1, 1.0),  # a university web server: a file a second is plenty
    docs_url="https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/data_library.html",
)

FrenchFile = Literal[
    "F-F_Research_Data_Factors",
    "F-F_Research_Data_Factors_daily",
    "F-F_Research_Data_5_Factors_2x3",
    "F-F_Research_Data_5_Factors_2x3_daily",
    "F-F_Momentum_Factor",
    "F-F_Momentum_Factor_daily",
]
FILES: tuple[str, ...] = FrenchFile.__args__  # type: ignore[attr-defined]
MISSING_VALUES = (-99.99, -999.0)
_FREQUENCY_BY_KEY_LENGTH = {8: "D", 6: "M", 4: "A"}
_FREQUENCY_SUFFIX = {"D": ".D", "M": "", "A": ".A"}


class FrenchFactorsQuery(BaseModel):
    """One library file; ``frequencies`` keeps those tables (all when empty); ``start``/``end``
    bound the period start (inclusive)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: FrenchFile = "F-F_Research_Data_Factors"
    frequencies: tuple[Literal["D", "M", "A"], ...] = ()
    start: date | None = None
    end: date | None = None

    @model_validator(mode="after")
    def _check(self) -> FrenchFactorsQuery:
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start ({self.start}) is after end ({self.end})")
        return self


@dataclass(frozen=True)
class FactorTable:
    """One table of a French CSV: column names and ``(key, cells)`` rows as text."""

    frequency: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, tuple[str, ...]], ...]


def parse_french_csv(text: str) -> list[FactorTable]:
    """The tables of a French library CSV, in file order (cells unparsed, percent as text).

    A table starts at a line beginning with a comma (the header) and runs over the following
    lines whose first cell is all digits; its frequency is read from the first key's length.
    """
    tables: list[FactorTable] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if not lines[i].startswith(","):
            i += 1
            continue
        columns = tuple(c.strip() for c in lines[i].split(",")[1:])
        i += 1
        rows: list[tuple[str, tuple[str, ...]]] = []
        while i < len(lines):
            key, _, rest = lines[i].partition(",")
            key = key.strip()
            if not key.isdigit():
                break
            rows.append((key, tuple(c.strip() for c in rest.split(","))))
            i += 1
        if rows:
            frequency = _FREQUENCY_BY_KEY_LENGTH.get(len(rows[0][0]), "?")
            tables.append(FactorTable(frequency, columns, tuple(rows)))
    return tables


class FrenchFactorsFetcher(ModelFetcher[FrenchFactorsQuery, MacroObservation]):
    """``factors``: factor returns of one library file as MacroObservations (fractions)."""

    provider = PROVIDER
    kind = DataKind.MACRO
    dataset = "factors"
    query_model = FrenchFactorsQuery

    def __init__(
        self,
        credentials: Mapping[str, SecretStr | str] = {},
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._credentials = credentials  # keyless; accepted for a uniform constructor
        self._clock = clock  # "now" for ts_known; tests pass a fixed one

    async def aextract_data(self, query: FrenchFactorsQuery, http: ProviderHttp) -> Any:
        """``{"fetched_at", "file", "text"}``: the zip's one CSV, decoded."""
        fetched_at = self._clock()
        response = await http.get(f"/{query.file}_CSV.zip")
        text = _unzip_csv(response.content, query.file)
        if not parse_french_csv(text):
            raise NoData(PROVIDER.name, f"{query.file} holds no factor table")
        return {"fetched_at": fetched_at, "file": query.file, "text": text}

    def transform_data(self, query: FrenchFactorsQuery, raw: Any) -> Transformed[MacroObservation]:
        """One observation per factor and row; missing (-99.99/-999) and bad cells are Rejects."""
        fetched_at: datetime = raw["fetched_at"]
        model = ".5F" if "5_Factors" in raw["file"] else ""
        records: list[MacroObservation] = []
        rejects: list[Reject] = []
        for table in parse_french_csv(raw["text"]):
            if query.frequencies and table.frequency not in query.frequencies:
                continue
            suffix = model + _FREQUENCY_SUFFIX.get(table.frequency, "")
            for key, cells in table.rows:
                try:
                    if _FREQUENCY_BY_KEY_LENGTH.get(len(key)) != table.frequency:
                        raise ValueError(f"row key {key!r} does not match the table's keys")
                    period = _period(key)
                except ValueError as exc:
                    rejects.append(Reject(str(exc), (key, cells)))
                    continue
                if (query.start and period.date() < query.start) or (
                    query.end and period.date() > query.end
                ):
                    continue
                if len(cells) != len(table.columns):
                    reason = f"row {key} has {len(cells)} cells for {len(table.columns)} columns"
                    rejects.append(Reject(reason, (key, cells)))
                    continue
                for column, cell in zip(table.columns, cells, strict=True):
                    try:
                        percent = float(cell)
                        if percent in MISSING_VALUES:
                            raise ValueError(f"missing value {cell!r}")
                        records.append(
                            MacroObservation(
                                series_id=f"FF:{column}{suffix}",
                                period=period,
                                frequency=table.frequency,
                                value=percent / 100.0,
                                units="fraction",
                                source=PROVIDER.name,
                                ts_known=fetched_at,
                            )
                        )
                    except ValueError as exc:
                        rejects.append(
                            Reject(f"{column} {key}: {error_message(exc)}", (key, cells))
                        )
        return Transformed(records, rejects)


def _unzip_csv(content: bytes, file: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = [n for n in archive.namelist() if n.lower().endswith(".csv")]
            if len(members) != 1:
                raise MalformedResponse(
                    PROVIDER.name, f"{file}_CSV.zip holds {len(members)} CSV files, expected 1"
                )
            data = archive.read(members[0])
    except zipfile.BadZipFile:
        raise MalformedResponse(PROVIDER.name, f"{file}_CSV.zip is not a zip archive") from None
    # The files are plain ASCII; latin-1 never fails on an odd byte in a description line.
    return data.decode("latin-1")


def _period(key: str) -> datetime:
    try:
        if len(key) == 8:
            return datetime(int(key[:4]), int(key[4:6]), int(key[6:]), tzinfo=UTC)
        if len(key) == 6:
            return datetime(int(key[:4]), int(key[4:]), 1, tzinfo=UTC)
        if len(key) == 4:
            return datetime(int(key), 1, 1, tzinfo=UTC)
    except ValueError:
        pass
    raise ValueError(f"bad period key {key!r} (expected YYYYMMDD, YYYYMM or YYYY)")


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (FrenchFactorsFetcher,)
