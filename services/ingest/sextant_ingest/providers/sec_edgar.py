"""SEC EDGAR: XBRL company facts (every reported value of every filing) as Fundamentals.

Keyless, but the SEC requires a descriptive User-Agent naming the requester and a contact
e-mail ("Sextant research terminal admin@example.com" by default; set it with
``SEXTANT_SEC_USER_AGENT``) and at most 10 requests per second; requests without one get
HTTP 403. Every request below sends it, whatever headers the ProviderHttp was built with.
Docs: https://www.sec.gov/search-filings/edgar-application-programming-interfaces

One dataset, ``company_facts``:

* ``GET https://www.sec.gov/files/company_tickers.json`` (``{"0": {"cik_str": 320193, "ticker":
  "AAPL", "title": "Apple Inc."}, ...}``) maps a ticker to its CIK, or a CIK to its ticker, when
  the query lacks one of the two (fetched once per fetcher instance).
* ``GET https://data.sec.gov/api/xbrl/companyfacts/CIK##########.json``: ``facts[taxonomy]
  [concept]["units"][unit]`` is a list of ``{"start"?, "end", "val", "accn", "fy", "fp", "form",
  "filed", "frame"?}`` (no ``start`` for instant facts such as balance-sheet values).
* with ``acceptance_times=True`` also ``GET /submissions/CIK##########.json``, whose
  ``filings.recent`` arrays give each accession's ``acceptanceDateTime``.

Normalization: ``entity_id`` is the ticker when known, else the 10-digit CIK; ``concept`` is
``"<taxonomy>:<name>"`` (``us-gaap:Revenues``); period bounds are UTC midnights; ``filing_id`` is
the accession number. ``fiscal_year``/``fiscal_period`` are EDGAR's ``fy``/``fp``, which describe
the *filing*, not the fact (a 10-K for FY2023 reports FY2022 comparatives with ``fy=2023``).

Point in time: ``ts_known`` is the filing date (UTC midnight). That is up to a day earlier than
the true public moment; ``acceptance_times=True`` uses the exact acceptance time instead for
the ~1000 most recent filings (older ones keep the filing date). The same fact (concept, unit,
period) reported by several filings is one event per filing, ``revision`` 0, 1, ... in filing
order (filing date, then accession number), so a restatement is a higher revision. Revisions
are numbered over the whole history before the query's ``forms``/date filters apply.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from sextant_common.events import Fundamental
from sextant_ingest.providers._common import ModelFetcher, secret_value, utc_midnight
from sextant_ingest.providers.errors import MalformedResponse, NotFound
from sextant_ingest.providers.fetcher import (
    DataKind,
    Fetcher,
    ProviderInfo,
    RateLimit,
    Reject,
    Transformed,
)
from sextant_ingest.providers.http import ProviderHttp

USER_AGENT_VARIABLE = "SEXTANT_SEC_USER_AGENT"
DEFAULT_USER_AGENT = "Sextant research terminal admin@example.com"
TICKERS_URL = "https://www.sec.gov/files/company_tickers.json"

PROVIDER = ProviderInfo(
    name="sec_edgar",
    base_url="https://data.sec.gov",
    kinds=frozenset({DataKind.FUNDAMENTALS}),
    rate_limit=RateLimit(10, 1.0),
    credentials=(),
    docs_url="https://www.sec.gov/search-filings/edgar-application-programming-interfaces",
    user_agent=DEFAULT_USER_AGENT,
)


class CompanyFactsQuery(BaseModel):
    """Facts of one company, by ``symbol`` (ticker) or ``cik`` (either is enough).

    ``concepts`` keeps only those ``taxonomy:Name`` concepts (all when empty); ``forms`` only
    facts from those forms; ``start``/``end`` bound ``period_end`` (inclusive).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str | None = Field(None, pattern=r"^[A-Za-z0-9.\-]{1,12}$")
    cik: int | None = Field(None, ge=1, le=9_999_999_999)
    concepts: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    start: date | None = None
    end: date | None = None
    acceptance_times: bool = False

    @field_validator("cik", mode="before")
    @classmethod
    def _strip_cik_prefix(cls, value: Any) -> Any:
        if isinstance(value, str):
            return value.upper().removeprefix("CIK")
        return value

    @field_validator("concepts")
    @classmethod
    def _check_concepts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for concept in value:
            if concept.count(":") != 1:
                raise ValueError(
                    f"concept {concept!r} must be 'taxonomy:Name', e.g. us-gaap:Revenues"
                )
        return value

    @model_validator(mode="after")
    def _check(self) -> CompanyFactsQuery:
        if self.symbol is None and self.cik is None:
            raise ValueError("give symbol (a ticker) or cik")
        if self.symbol is not None:
            object.__setattr__(self, "symbol", self.symbol.upper())
        if self.start and self.end and self.start > self.end:
            raise ValueError(f"start ({self.start}) is after end ({self.end})")
        return self


@dataclass(frozen=True)
class _Fact:
    concept: str
    unit: str
    start: date | None
    end: date
    value: float
    accn: str
    filed: date
    fy: int | None
    fp: str | None
    form: str | None
    raw: Any


class SecCompanyFactsFetcher(ModelFetcher[CompanyFactsQuery, Fundamental]):
    """``company_facts``: every XBRL fact a company reported, one event per filing."""

    provider = PROVIDER
    kind = DataKind.FUNDAMENTALS
    dataset = "company_facts"
    query_model = CompanyFactsQuery

    def __init__(self, credentials: Mapping[str, SecretStr | str] = {}) -> None:
        agent = secret_value(credentials, USER_AGENT_VARIABLE) or DEFAULT_USER_AGENT
        if "@" not in agent:
            raise ValueError(
                f"{USER_AGENT_VARIABLE} must name the requester and a contact e-mail "
                f"(the SEC rejects anonymous clients), got {agent!r}"
            )
        self.user_agent = agent
        self._tickers: dict[str, int] | None = None

    async def aextract_data(self, query: CompanyFactsQuery, http: ProviderHttp) -> Any:
        """``{"cik", "ticker", "facts", "submissions"}``: the company facts document and, when
        asked, the submissions document; resolves the ticker/CIK first when one is missing."""
        headers = {"User-Agent": self.user_agent}
        cik, ticker = query.cik, query.symbol
        if cik is None or ticker is None:
            tickers = await self._ticker_table(http, headers)
            if cik is None:
                assert ticker is not None  # the query validator requires one of the two
                if ticker not in tickers:
                    raise NotFound(PROVIDER.name, f"no CIK for ticker {ticker}; pass cik=")
                cik = tickers[ticker]
            else:
                ticker = next((t for t, c in tickers.items() if c == cik), None)
        padded = f"CIK{cik:010d}"
        facts = await http.get_json(f"/api/xbrl/companyfacts/{padded}.json", headers=headers)
        if not isinstance(facts, dict) or not isinstance(facts.get("facts"), dict):
            raise MalformedResponse(PROVIDER.name, f"companyfacts {padded} has no 'facts' object")
        submissions = None
        if query.acceptance_times:
            submissions = await http.get_json(f"/submissions/{padded}.json", headers=headers)
        return {"cik": cik, "ticker": ticker, "facts": facts, "submissions": submissions}

    async def _ticker_table(self, http: ProviderHttp, headers: dict[str, str]) -> dict[str, int]:
        if self._tickers is None:
            payload = await http.get_json(TICKERS_URL, headers=headers)
            if not isinstance(payload, dict):
                raise MalformedResponse(PROVIDER.name, "company_tickers.json is not an object")
            table: dict[str, int] = {}
            for row in payload.values():
                try:
                    table.setdefault(str(row["ticker"]).upper(), int(row["cik_str"]))
                except (KeyError, TypeError, ValueError):
                    continue  # one odd row must not hide the other ~10k tickers
            self._tickers = table
        return self._tickers

    def transform_data(self, query: CompanyFactsQuery, raw: Any) -> Transformed[Fundamental]:
        """Fundamentals with revisions numbered per (concept, unit, period) in filing order."""
        entity_id = raw["ticker"] or f"{raw['cik']:010d}"
        accepted = _acceptance_times(raw.get("submissions"))
        wanted = set(query.concepts)
        rejects: list[Reject] = []
        groups: dict[tuple[str, str, date | None, date], list[_Fact]] = defaultdict(list)
        for taxonomy, concepts in raw["facts"]["facts"].items():
            if not isinstance(concepts, dict):
                rejects.append(Reject(f"taxonomy {taxonomy!r} is not an object", concepts))
                continue
            for name, body in concepts.items():
                concept = f"{taxonomy}:{name}"
                if wanted and concept not in wanted:
                    continue
                units = body.get("units") if isinstance(body, dict) else None
                if not isinstance(units, dict):
                    rejects.append(Reject(f"{concept} has no 'units' object", body))
                    continue
                for unit, rows in units.items():
                    for row in rows if isinstance(rows, list) else [rows]:
                        try:
                            fact = _parse_fact(concept, unit, row)
                        except ValueError as exc:
                            rejects.append(Reject(f"{concept} [{unit}]: {exc}", row))
                            continue
                        groups[(concept, unit, fact.start, fact.end)].append(fact)

        records: list[Fundamental] = []
        for facts in groups.values():
            facts.sort(key=lambda f: (f.filed, f.accn))
            revision = 0
            seen: dict[str, float] = {}
            for fact in facts:
                if fact.accn in seen:
                    if seen[fact.accn] != fact.value:
                        rejects.append(
                            Reject(
                                f"{fact.concept}: filing {fact.accn} reports two values "
                                f"({seen[fact.accn]} and {fact.value}) for one period",
                                fact.raw,
                            )
                        )
                    continue  # the same filing repeating a value is not a new revision
                seen[fact.accn] = fact.value
                if _wanted(query, fact):
                    event = _event(entity_id, fact, revision, accepted.get(fact.accn))
                    if isinstance(event, Reject):
                        rejects.append(event)
                    else:
                        records.append(event)
                revision += 1
        records.sort(key=lambda f: (f.concept, f.period_end, f.ts_known, f.revision))
        return Transformed(records, rejects)


def _wanted(query: CompanyFactsQuery, fact: _Fact) -> bool:
    if query.forms and fact.form not in query.forms:
        return False
    if query.start and fact.end < query.start:
        return False
    return not (query.end and fact.end > query.end)


def _event(entity_id: str, fact: _Fact, revision: int, accepted: datetime | None) -> Any:
    try:
        return Fundamental(
            entity_id=entity_id,
            concept=fact.concept,
            value=fact.value,
            unit=fact.unit,
            period_start=utc_midnight(fact.start) if fact.start else None,
            period_end=utc_midnight(fact.end),
            fiscal_year=fact.fy,
            fiscal_period=fact.fp,
            form=fact.form,
            filing_id=fact.accn,
            source=PROVIDER.name,
            ts_known=accepted or utc_midnight(fact.filed),
            revision=revision,
        )
    except ValidationError as exc:
        return Reject(f"{fact.concept}: invalid fact: {exc.errors()[0]['msg']}", fact.raw)


def _parse_fact(concept: str, unit: str, row: Any) -> _Fact:
    if not isinstance(row, dict):
        raise ValueError(f"fact is not an object: {row!r}")
    value = row.get("val")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"'val' {value!r} is not a number")
    try:
        end = date.fromisoformat(row["end"])
        filed = date.fromisoformat(row["filed"])
        start = date.fromisoformat(row["start"]) if row.get("start") else None
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"bad or missing date: {exc}") from None
    accn = row.get("accn")
    if not isinstance(accn, str) or not accn:
        raise ValueError("missing 'accn'")
    fy = row.get("fy")
    return _Fact(
        concept=concept,
        unit=unit,
        start=start,
        end=end,
        value=float(value),
        accn=accn,
        filed=filed,
        fy=fy if isinstance(fy, int) and not isinstance(fy, bool) else None,
        fp=row.get("fp") or None,
        form=row.get("form") or None,
        raw=row,
    )


def _acceptance_times(submissions: Any) -> dict[str, datetime]:
    """accession number -> acceptance time, from ``filings.recent`` (parallel arrays)."""
    if not isinstance(submissions, dict):
        return {}
    recent = submissions.get("filings", {}).get("recent", {})
    accns = recent.get("accessionNumber") or []
    times = recent.get("acceptanceDateTime") or []
    out: dict[str, datetime] = {}
    for accn, stamp in zip(accns, times, strict=False):
        try:
            moment = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            continue  # keeps the filing date for this accession
        if moment.tzinfo is not None:
            out[accn] = moment.astimezone(UTC)
    return out


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (SecCompanyFactsFetcher,)
