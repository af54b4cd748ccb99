"""IMF data (keyless): IFS, DOT, BOP ... series through the SDMX JSON ``CompactData`` service.

Implemented: the *legacy* SDMX 2.0 JSON service at ``dataservices.imf.org/REST/SDMX_JSON.svc``,
``GET /CompactData/{db}/{freq}.{countries}.{indicator}?startPeriod=&endPeriod=`` (countries
ISO2, joined with ``+``). The IMF has been migrating to a new SDMX 2.1/3.0 REST API at
``api.imf.org`` (new data portal data.imf.org, 2025) with different dataflow ids (IFS split
into CPI, MFS, ...), ISO3 country codes and SDMX-JSON 2.0 messages, and is retiring the legacy
service; the new API needs its own fetcher (and fixtures) when it is adopted.
Docs: https://datahelp.imf.org/knowledgebase/articles/667681

The answer is ``{"CompactData": {"Header": {...}, "DataSet": {"Series": ...}}}`` where
``Series`` is one object or a list of them (one per country), each with ``@FREQ``,
``@REF_AREA``, ``@INDICATOR``, ``@UNIT_MULT`` and ``Obs``, again one object or a list, of
``{"@TIME_PERIOD": "2020-01", "@OBS_VALUE": "1.23"}``; a DataSet without ``Series`` means no
data. Periods are ``2020`` (A), ``2020-Q1`` (Q), ``2020-01`` (M).

Normalization: ``series_id`` is ``IMF:<db>:<freq>.<area>.<indicator>`` (the SDMX key), values
are scaled by ``10 ** @UNIT_MULT`` (so millions become units), an observation without a value
is a Reject. Point in time: the service has no vintages, so ``ts_known`` is the fetch time and
``revision`` is 0. The service allows about 10 requests per 5 seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

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
    name="imf",
    base_url="https://dataservices.imf.org/REST/SDMX_JSON.svc",
    kinds=frozenset({DataKind.MACRO}),
    rate_limit=RateLimit(10, 5.0),
    docs_url="https://datahelp.imf.org/knowledgebase/articles/667681",
)

_PERIOD = r"^\d{4}(-(Q[1-4]|\d{2}))?$"


class ImfCompactQuery(BaseModel):
    """One indicator of one IMF database for some countries (ISO2 codes, e.g. ``US``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database: str = Field("IFS", pattern=r"^[A-Za-z0-9_]{1,32}$")
    frequency: Literal["A", "Q", "M"] = "M"
    countries: tuple[str, ...] = Field(("US",), min_length=1)
    indicator: str = Field(pattern=r"^[A-Za-z0-9_]{1,64}$")
    start_period: str | None = Field(None, pattern=_PERIOD)
    end_period: str | None = Field(None, pattern=_PERIOD)

    @model_validator(mode="after")
    def _check(self) -> ImfCompactQuery:
        codes = tuple(c.upper() for c in self.countries)
        for code in codes:
            if not code.isalnum() or not 2 <= len(code) <= 3:
                raise ValueError(f"countries: {code!r} is not an IMF (ISO2) area code")
        object.__setattr__(self, "countries", codes)
        return self

    @property
    def key(self) -> str:
        """The SDMX series key, e.g. ``M.US+GB.PCPI_IX``."""
        return f"{self.frequency}.{'+'.join(self.countries)}.{self.indicator}"


class ImfCompactDataFetcher(ModelFetcher[ImfCompactQuery, MacroObservation]):
    """``compact_data``: IMF SDMX series as MacroObservations."""

    provider = PROVIDER
    kind = DataKind.MACRO
    dataset = "compact_data"
    query_model = ImfCompactQuery

    def __init__(
        self,
        credentials: Mapping[str, SecretStr | str] = {},
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._credentials = credentials  # keyless; accepted for a uniform constructor
        self._clock = clock  # "now" for ts_known; tests pass a fixed one

    async def aextract_data(self, query: ImfCompactQuery, http: ProviderHttp) -> Any:
        """``{"fetched_at": <UTC now>, "payload": <CompactData JSON>}`` (one request)."""
        params = {}
        if query.start_period:
            params["startPeriod"] = query.start_period
        if query.end_period:
            params["endPeriod"] = query.end_period
        fetched_at = self._clock()
        payload = await http.get_json(
            f"/CompactData/{query.database}/{query.key}", params=params or None
        )
        if not _series_list(payload):
            raise NoData(PROVIDER.name, f"{query.database} {query.key} has no series")
        return {"fetched_at": fetched_at, "payload": payload}

    def transform_data(self, query: ImfCompactQuery, raw: Any) -> Transformed[MacroObservation]:
        """MacroObservations ``IMF:<db>:<key>``, scaled by ``10 ** @UNIT_MULT``."""
        fetched_at: datetime = raw["fetched_at"]
        records: list[MacroObservation] = []
        rejects: list[Reject] = []
        for series in _series_list(raw["payload"]):
            if not isinstance(series, dict):
                rejects.append(Reject("series is not an object", series))
                continue
            try:
                scale = 10.0 ** int(series.get("@UNIT_MULT") or 0)
                frequency = str(series.get("@FREQ") or query.frequency)
                series_id = (
                    f"IMF:{query.database}:{frequency}.{series['@REF_AREA']}.{series['@INDICATOR']}"
                )
            except (KeyError, ValueError) as exc:
                rejects.append(Reject(f"series without a usable key: {exc}", series))
                continue
            observations = series.get("Obs", [])
            if isinstance(observations, dict):
                observations = [observations]
            for obs in observations:
                try:
                    records.append(_observation(obs, series_id, frequency, scale, fetched_at))
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    rejects.append(Reject(f"{series_id}: {error_message(exc)}", obs))
        return Transformed(records, rejects)


def _series_list(payload: Any) -> list[Any]:
    """The DataSet's series as a list ([] for an empty DataSet); raises on another shape."""
    try:
        dataset = payload["CompactData"]["DataSet"]
    except (KeyError, TypeError):
        raise MalformedResponse(PROVIDER.name, "body has no CompactData.DataSet") from None
    if dataset is None:
        return []
    if not isinstance(dataset, dict):
        raise MalformedResponse(PROVIDER.name, "CompactData.DataSet is not an object")
    series = dataset.get("Series")
    if series is None:
        return []
    return [series] if isinstance(series, dict) else list(series)


def _observation(
    obs: dict[str, Any], series_id: str, frequency: str, scale: float, fetched_at: datetime
) -> MacroObservation:
    value = obs.get("@OBS_VALUE")
    if value is None or value == "":
        raise ValueError(f"no @OBS_VALUE at {obs.get('@TIME_PERIOD')}")
    return MacroObservation(
        series_id=series_id,
        period=_period(str(obs["@TIME_PERIOD"])),
        frequency=frequency,
        value=float(value) * scale,
        source=PROVIDER.name,
        ts_known=fetched_at,
        revision=0,
    )


def _period(text: str) -> datetime:
    """Start of an SDMX period: ``2020`` (year), ``2020-Q2`` (quarter), ``2020-04`` (month)."""
    year, _, rest = text.partition("-")
    if not year.isdigit() or len(year) != 4:
        raise ValueError(f"unrecognized @TIME_PERIOD {text!r}")
    if not rest:
        return datetime(int(year), 1, 1, tzinfo=UTC)
    if rest[:1] == "Q" and rest[1:] in ("1", "2", "3", "4"):
        return datetime(int(year), 3 * int(rest[1:]) - 2, 1, tzinfo=UTC)
    if rest.isdigit() and 1 <= int(rest) <= 12:
        return datetime(int(year), int(rest), 1, tzinfo=UTC)
    raise ValueError(f"unrecognized @TIME_PERIOD {text!r}")


FETCHERS: tuple[type[Fetcher[Any, Any]], ...] = (ImfCompactDataFetcher,)
