"""World Bank Indicators API v2 (keyless): development indicators per country, mostly annual.

One dataset, ``indicator``: ``GET /v2/country/{iso}/indicator/{indicator}?format=json&date=
2000:2023&per_page=1000&page=N``. The answer is a two-element JSON array: a page header
``{"page", "pages", "per_page", "total", "sourceid", "lastupdated"}`` and the rows
``[{"indicator": {"id", "value"}, "country": {"id", "value"}, "countryiso3code", "date": "2023",
"value", "unit", "obs_status", "decimal"}]`` (``null`` instead of the list when there is nothing).
Every page is fetched. Docs: https://datahelpdesk.worldbank.org/knowledgebase/articles/898581

Errors come with HTTP 200 as ``[{"message": [{"id": "120", "key": "Invalid value", "value":
"..."}]}]``: id 120 (an unknown country) and id 175 "The indicator was not found" become
:class:`NotFound`, 105/160/199
(service down, unexpected error) :class:`ProviderUnavailable`, anything else
:class:`MalformedResponse`.

Normalization: ``series_id`` is ``WB:<iso3>:<indicator>`` (``WB:USA:NY.GDP.MKTP.CD``), ``period``
the start of the year (or ``2023Q1`` quarter, ``2023M01`` month for the few sub-annual
sources), ``null`` values become Rejects. Point in time: the API has no vintages, so
``ts_known`` is the source's ``lastupdated`` date (the day the whole database was last
refreshed: the values were known by then, possibly earlier) and ``revision`` is 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from sextant_common.events import MacroObservation
from sextant_ingest.providers._common import ModelFetcher, error_message, utc_midnight
from sextant_ingest.providers.errors import (
    MalformedResponse,
    NoData,
    NotFound,
    ProviderError,
    ProviderUnavailable,
)
from sextant_ingest.providers.fetcher import (
    DataKind,
    Fetcher,
    ProviderInfo,
    RateLimit,
    Reject,
    Transformed,
)
from sextant_ingest.providers.http import ProviderHttp

PROVIDER = ProviderInfo(
    name="worldbank",
    base_url="https://api.worldbank.org/v2",
    kinds=frozenset({DataKind.MACRO}),
    # No published limit; stay polite.
    rate_limit=RateLimit(10, 1.0),
    docs_url="https://datahelpdesk.worldbank.org/knowledgebase/articles/889392",
)

_NOT_FOUND = {"120"}
_UNAVAILABLE = {"105", "160", "199"}


class WorldBankIndicatorQuery(BaseModel):
    """One indicator for one or more countries (ISO3/ISO2 codes, or aggregates like WLD),
    years ``start_year..end_year`` inclusive (all years when both are None)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    indicator: str = Field(pattern=r"^[A-Za-z0-9_.]{1,64}$")
    countries: tuple[str, ...] = Field(("USA",), min_length=1)
    start_year: int | None = Field(None, ge=1960, le=2100)
    end_year: int | None = Field(None, ge=1960, le=2100)
    per_page: int = Field(1000, ge=1, le=20_000)

    @model_validator(mode="after")
    def _check(self) -> WorldBankIndicatorQuery:
        codes = tuple(c.upper() for c in self.countries)
        for code in codes:
            if not code.isalnum() or not 2 <= len(code) <= 3:
                raise ValueError(f"countries: {code!r} is not an ISO2/ISO3 code")
        object.__setattr__(self, "countries", codes)
        if self.start_year and self.end_year and self.start_year > self.end_year:
            raise ValueError(f"start_year ({self.start_year}) is after end_year ({self.end_year})")
        return self

    def date_param(self) -> str | None:
        """The API's ``date`` parameter: ``2000:2023``, one year, or None for all years."""
        if self.start_year is None and self.end_year is None:
            return None
        first = self.start_year or 1960
        last = self.end_year or datetime.now(UTC).year
        return f"{first}:{last}"


class WorldBankIndicatorFetcher(ModelFetcher[WorldBankIndicatorQuery, MacroObservation]):
    """``indicator``: one World Bank indicator for some countries as MacroObservations."""

    provider = PROVIDER
    kind = DataKind.MACRO
    dataset = "indicator"
    query_model = WorldBankIndicatorQuery

    def __init__(self, credentials: Mapping[str, SecretStr | str] = {}) -> None:
        self._credentials = credentials  # keyless; accepted for a uniform constructor

    async def aextract_data(self, query: WorldBankIndicatorQuery, http: ProviderHttp) -> Any:
        """Every page: a list of ``[header, rows]`` pairs as the API sent them."""
        path = f"/country/{';'.join(query.countries)}/indicator/{query.indicator}"
        params: dict[str, Any] = {"format": "json", "per_page": query.per_page}
        if (years := query.date_param()) is not None:
            params["date"] = years
        pages: list[list[Any]] = []
        page_number = 1
        while True:
            payload = await http.get_json(path, params={**params, "page": page_number})
            header, _rows = _split(payload, query)
            pages.append(payload)
            pages_total = _int(header.get("pages"), "pages")
            if page_number >= pages_total:
                break
            page_number += 1
        if not any(_split(p, query)[1] for p in pages):
            raise NoData(PROVIDER.name, f"no {query.indicator} values for {query.countries}")
        return pages

    def transform_data(
        self, query: WorldBankIndicatorQuery, raw: Any
    ) -> Transformed[MacroObservation]:
        """MacroObservations ``WB:<iso3>:<indicator>``; null values become Rejects."""
        records: list[MacroObservation] = []
        rejects: list[Reject] = []
        for payload in raw:
            header, rows = _split(payload, query)
            try:
                updated = date.fromisoformat(str(header.get("lastupdated")))
            except ValueError:
                raise MalformedResponse(
                    PROVIDER.name, f"bad 'lastupdated': {header.get('lastupdated')!r}"
                ) from None
            ts_known = utc_midnight(updated)
            for row in rows:
                try:
                    records.append(_observation(row, ts_known))
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    rejects.append(Reject(error_message(exc), row))
        return Transformed(records, rejects)


def _split(payload: Any, query: WorldBankIndicatorQuery) -> tuple[dict[str, Any], list[Any]]:
    """The header and rows of one page; raises the typed error of an error message."""
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        messages = payload[0].get("message")
        if messages is not None:
            raise _error(messages, query)
        if len(payload) == 2 and (payload[1] is None or isinstance(payload[1], list)):
            return payload[0], payload[1] or []
    raise MalformedResponse(PROVIDER.name, "expected [header, rows] or [{'message': [...]}]")


def _error(messages: Any, query: WorldBankIndicatorQuery) -> ProviderError:
    first = messages[0] if isinstance(messages, list) and messages else {}
    code = str(first.get("id", "")) if isinstance(first, dict) else ""
    text = f"{first.get('key', '')}: {first.get('value', '')}" if isinstance(first, dict) else ""
    what = f"{query.indicator} for {','.join(query.countries)}"
    if code in _NOT_FOUND or (code == "175" and "not found" in text.lower()):
        return NotFound(PROVIDER.name, f"{what}: error {code} {text}")
    if code in _UNAVAILABLE:
        return ProviderUnavailable(PROVIDER.name, f"{what}: error {code} {text}")
    return MalformedResponse(PROVIDER.name, f"{what}: error {code} {text}")


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise MalformedResponse(PROVIDER.name, f"page header {name!r} is {value!r}") from None


def _observation(row: dict[str, Any], ts_known: datetime) -> MacroObservation:
    if row["value"] is None:
        raise ValueError("null value")
    iso = row.get("countryiso3code") or row["country"]["id"]
    period, frequency = _period(str(row["date"]))
    return MacroObservation(
        series_id=f"WB:{iso}:{row['indicator']['id']}",
        period=period,
        frequency=frequency,
        value=float(row["value"]),
        units=str(row.get("unit") or ""),
        source=PROVIDER.name,
        ts_known=ts_known,
        revision=0,
    )


def _period(text: str) -> tuple[datetime, str]:
    """Start of a World Bank period: ``2023`` (A), ``2023Q2`` (Q), ``2023M04`` (M)."""
    if len(text) == 4 and text.isdigit():
        return datetime(int(text), 1, 1, tzinfo=UTC), "A"
    if len(text) == 6 and text[4] == "Q" and text[:4].isdigit() and text[5] in "1234":
        return datetime(int(text[:4]), 3 * int(text[5]) - 2, 1, tzinfo=UTC), "Q"
    if len(text) == 7 and text[4] == "M" and text[:4].isdigit() and text[5:].isdigit():
        return datetime(int(text[:4]), int(text[5:]), 1, tzinfo=UTC), "M"
    raise ValueError(f"unrecognized date {text!r} (expected 2023, 2023Q1 or 2023M01)")


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (WorldBankIndicatorFetcher,)
