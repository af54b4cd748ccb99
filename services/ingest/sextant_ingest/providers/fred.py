"""FRED (Federal Reserve Bank of St. Louis): economic time series, with ALFRED vintages.

One dataset, ``series_observations``: ``GET /fred/series`` (metadata: frequency, units) then
``GET /fred/series/observations`` paged by ``offset``/``limit`` (``limit`` at most 100000), with
``file_type=json`` and the key as the ``api_key`` query parameter (``SEXTANT_FRED_API_KEY``).
Docs: https://fred.stlouisfed.org/docs/api/fred/series_observations.html

Point in time: every observation carries FRED's real-time period. ``ts_known`` is its
``realtime_start`` (the day that value became FRED's value for the date, ALFRED semantics). Ask
for vintages with ``realtime_start``/``realtime_end`` or ``all_vintages=True``
(1776-07-04..9999-12-31); then one date comes back once per vintage and ``revision`` numbers
them 0, 1, ... in ``realtime_start`` order (valid values only, so the first published value is
revision 0). Without real-time parameters FRED answers "as of today": one row per date, its
``realtime_start`` today, revision 0.

``"."`` marks a missing value: such rows become Rejects ("missing value '.'"), not errors.
FRED reports a bad key as HTTP 400 with ``{"error_code": 400, "error_message": "Bad Request.
The value for variable api_key is not registered. ..."}``; that becomes :class:`Unauthorized`,
and "The series does not exist." becomes :class:`NotFound`. The key never appears in an error.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from sextant_common.events import MacroObservation
from sextant_ingest.providers._common import ModelFetcher, require_secret, utc_midnight
from sextant_ingest.providers._common import secret_value as secret_value
from sextant_ingest.providers.errors import (
    MalformedResponse,
    NoData,
    NotFound,
    ProviderError,
    Unauthorized,
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

API_KEY_VARIABLE = "SEXTANT_FRED_API_KEY"

PROVIDER = ProviderInfo(
    name="fred",
    base_url="https://api.stlouisfed.org",
    kinds=frozenset({DataKind.MACRO}),
    rate_limit=RateLimit(120, 60.0),  # FRED: 120 requests per minute per key
    credentials=(API_KEY_VARIABLE,),
    docs_url="https://fred.stlouisfed.org/docs/api/fred/",
)

MAX_PAGE = 100_000
ALFRED_START = date(1776, 7, 4)
"""FRED's earliest real-time date; with ``ALFRED_END`` it asks for every vintage."""
ALFRED_END = date(9999, 12, 31)
MISSING = "."


class FredObservationsQuery(BaseModel):
    """Observations of one FRED series.

    Dates are inclusive. ``frequency`` asks FRED to aggregate to a lower frequency with
    ``aggregation_method`` (its documented ``frequency`` parameter); None keeps the native one.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    series_id: str = Field(pattern=r"^[A-Za-z0-9_.]{1,64}$")
    observation_start: date | None = None
    observation_end: date | None = None
    realtime_start: date | None = None
    realtime_end: date | None = None
    all_vintages: bool = False
    frequency: Literal["D", "W", "M", "Q", "A"] | None = None
    aggregation_method: Literal["avg", "sum", "eop"] = "avg"
    page_size: int = Field(MAX_PAGE, ge=1, le=MAX_PAGE)

    @model_validator(mode="after")
    def _check(self) -> FredObservationsQuery:
        object.__setattr__(self, "series_id", self.series_id.upper())
        for start, end in (
            ("observation_start", "observation_end"),
            ("realtime_start", "realtime_end"),
        ):
            first, last = getattr(self, start), getattr(self, end)
            if first is not None and last is not None and first > last:
                raise ValueError(f"{start} ({first}) is after {end} ({last})")
        if self.all_vintages and (self.realtime_start or self.realtime_end):
            raise ValueError("all_vintages=True already sets realtime_start/realtime_end")
        return self

    def realtime_params(self) -> dict[str, str]:
        """The ``realtime_start``/``realtime_end`` parameters (empty: FRED's today)."""
        if self.all_vintages:
            return {
                "realtime_start": ALFRED_START.isoformat(),
                "realtime_end": ALFRED_END.isoformat(),
            }
        params = {}
        if self.realtime_start:
            params["realtime_start"] = self.realtime_start.isoformat()
        if self.realtime_end:
            params["realtime_end"] = self.realtime_end.isoformat()
        return params


class FredSeriesObservationsFetcher(ModelFetcher[FredObservationsQuery, MacroObservation]):
    """``series_observations``: one series' values (and vintages) as MacroObservations."""

    provider = PROVIDER
    kind = DataKind.MACRO
    dataset = "series_observations"
    query_model = FredObservationsQuery

    def __init__(self, credentials: Mapping[str, SecretStr | str] = {}) -> None:
        self._credentials = credentials

    async def aextract_data(self, query: FredObservationsQuery, http: ProviderHttp) -> Any:
        """``{"series": <metadata>, "pages": [<observations page>, ...]}``, every page."""
        key = require_secret(self._credentials, API_KEY_VARIABLE, PROVIDER.name)
        base = {"series_id": query.series_id, "api_key": key, "file_type": "json"}
        try:
            meta = await http.get_json("/fred/series", params=base)
            series = _series_metadata(meta, query.series_id)
            params: dict[str, Any] = {**base, **query.realtime_params()}
            if query.observation_start:
                params["observation_start"] = query.observation_start.isoformat()
            if query.observation_end:
                params["observation_end"] = query.observation_end.isoformat()
            if query.frequency:
                params["frequency"] = query.frequency.lower()
                params["aggregation_method"] = query.aggregation_method
            pages: list[dict[str, Any]] = []
            offset = 0
            while True:
                page = await http.get_json(
                    "/fred/series/observations",
                    params={**params, "offset": offset, "limit": query.page_size},
                )
                observations, count = _observations_page(page)
                pages.append(page)
                offset += len(observations)
                if not observations or offset >= count:
                    break
        except ProviderError as exc:
            raise _translate(exc, key, query.series_id) from None
        if not any(page["observations"] for page in pages):
            raise NoData(PROVIDER.name, f"no observations of {query.series_id} in the range")
        return {"series": series, "pages": pages}

    def transform_data(
        self, query: FredObservationsQuery, raw: Any
    ) -> Transformed[MacroObservation]:
        """MacroObservations ``FRED:<id>``; "." values and unparsable rows become Rejects."""
        series = raw["series"]
        frequency = query.frequency or str(series.get("frequency_short") or "")
        units = str(series.get("units") or "")
        rejects: list[Reject] = []
        # (date, realtime_start, value, raw row), grouped by date to number the vintages.
        by_date: dict[date, list[tuple[date, float, Any]]] = defaultdict(list)
        for page in raw["pages"]:
            for row in page["observations"]:
                try:
                    day, known, value = _parse_row(row)
                except ValueError as exc:
                    rejects.append(Reject(str(exc), row))
                    continue
                by_date[day].append((known, value, row))
        records: list[MacroObservation] = []
        for day in sorted(by_date):
            vintages = sorted(by_date[day], key=lambda v: v[0])
            for revision, (known, value, row) in enumerate(vintages):
                try:
                    records.append(
                        MacroObservation(
                            series_id=f"FRED:{query.series_id}",
                            period=utc_midnight(day),
                            frequency=frequency,
                            value=value,
                            units=units,
                            source=PROVIDER.name,
                            ts_known=utc_midnight(known),
                            revision=revision,
                        )
                    )
                except ValidationError as exc:
                    rejects.append(Reject(f"invalid observation: {exc.errors()[0]['msg']}", row))
        return Transformed(records, rejects)


def _series_metadata(payload: Any, series_id: str) -> dict[str, Any]:
    # /fred/series answers {"realtime_start", "realtime_end", "seriess": [{...}]}: "seriess"
    # (sic) holds one entry per metadata vintage; the last is the current one.
    seriess = payload.get("seriess") if isinstance(payload, dict) else None
    if not isinstance(seriess, list) or not seriess or not isinstance(seriess[-1], dict):
        raise MalformedResponse(PROVIDER.name, f"/fred/series for {series_id} has no 'seriess'")
    return seriess[-1]


def _observations_page(page: Any) -> tuple[list[Any], int]:
    observations = page.get("observations") if isinstance(page, dict) else None
    if not isinstance(observations, list):
        raise MalformedResponse(PROVIDER.name, "observations page has no 'observations' list")
    try:
        count = int(page.get("count", len(observations)))
    except (TypeError, ValueError):
        raise MalformedResponse(PROVIDER.name, f"bad 'count': {page.get('count')!r}") from None
    return observations, count


def _parse_row(row: Any) -> tuple[date, date, float]:
    if not isinstance(row, dict):
        raise ValueError(f"observation is not an object: {row!r}")
    value = row.get("value")
    if value == MISSING:
        raise ValueError("missing value '.'")
    try:
        day = date.fromisoformat(str(row["date"]))
        known = date.fromisoformat(str(row["realtime_start"]))
    except (KeyError, ValueError) as exc:
        raise ValueError(f"bad date or realtime_start: {exc}") from None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"value {value!r} is not a number") from None
    return day, known, number


def _translate(exc: ProviderError, key: str, series_id: str) -> ProviderError:
    """Map FRED's HTTP 400 bodies to typed errors and make sure the key is not in the message."""
    message = str(exc)
    if isinstance(exc, MalformedResponse) and "HTTP 400" in message:
        if "api_key" in message:
            return Unauthorized(
                PROVIDER.name, f"FRED rejected the API key (HTTP 400); check {API_KEY_VARIABLE}"
            )
        if "does not exist" in message:
            return NotFound(PROVIDER.name, f"FRED series {series_id} does not exist")
    if key in message:
        exc.args = (message.replace(key, "***"),)
    return exc


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (FredSeriesObservationsFetcher,)
