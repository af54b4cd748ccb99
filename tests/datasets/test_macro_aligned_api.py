"""``GET /v1/macro/aligned`` over HTTP: FRED monthly, World Bank annual and IMF quarterly
observations stored with the real FactWriter, aligned as known at a point in time."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from sextant_common.events import MacroObservation
from sextant_datasets.app import build_app
from sextant_datasets.facts.store import FactWriter
from sextant_datasets.settings import DatasetsSettings

CPI = "FRED:CPIAUCSL"
GDP = "WB:USA:NY.GDP.MKTP.CD"
NGDP = "IMF:IFS:Q.US.NGDP_XDC"
ALL = f"{CPI},{GDP},{NGDP}"
WB_GDP_2022 = 25_744_108_000_000.0


def utc(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, tzinfo=UTC)


def obs(
    series: str,
    period: datetime,
    frequency: str,
    value: float,
    known: datetime,
    revision: int = 0,
    source: str = "fred",
) -> MacroObservation:
    return MacroObservation(
        series_id=series,
        period=period,
        frequency=frequency,
        value=value,
        source=source,
        ts_known=known,
        revision=revision,
    )


def store_macro(lake: Path) -> None:
    """Knowledge timeline: WB 2022 on 2023-07-01; CPI Jan-Jun 2023 and IMF 2022Q4-2023Q2 on
    2023-08-01/15; CPI March revised on 2023-09-15, IMF 2023Q2 on 2023-10-01; WB 2023 on
    2024-07-01."""
    cpi = [obs(CPI, utc(2023, m, 1), "M", 300.0 + m, utc(2023, 8, 1)) for m in range(1, 7)]
    cpi.append(obs(CPI, utc(2023, 3, 1), "M", 313.5, utc(2023, 9, 15), revision=1))
    gdp = [
        obs(GDP, utc(2022, 1, 1), "A", WB_GDP_2022, utc(2023, 7, 1), source="worldbank"),
        obs(GDP, utc(2023, 1, 1), "A", 27e12, utc(2024, 7, 1), source="worldbank"),
    ]
    ngdp = [
        obs(NGDP, utc(2022, 10, 1), "Q", 10.0, utc(2023, 8, 15), source="imf"),
        obs(NGDP, utc(2023, 1, 1), "Q", 11.0, utc(2023, 8, 15), source="imf"),
        obs(NGDP, utc(2023, 4, 1), "Q", 12.0, utc(2023, 8, 15), source="imf"),
        obs(NGDP, utc(2023, 4, 1), "Q", 12.5, utc(2023, 10, 1), revision=1, source="imf"),
    ]
    written = FactWriter(lake).write([*cpi, *gdp, *ngdp])
    assert written.written == {"macro": 13}


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    """The real datasets app over a lake in ``tmp_path``; its lifespan (the Kafka consumers)
    is never entered, so the bootstrap address is never dialled."""
    settings = DatasetsSettings(kafka_bootstrap="127.0.0.1:9", data_dir=tmp_path)
    store_macro(settings.lake_dir)
    return TestClient(build_app(settings))


def aligned(client: TestClient, **params: str) -> dict[str, Any]:
    response = client.get("/v1/macro/aligned", params={"series": ALL, **params})
    assert response.status_code == 200, response.text
    assert "NaN" not in response.text
    body: dict[str, Any] = response.json()
    assert all(len(column) == len(body["period_end"]) for column in body["columns"].values())
    return body


def test_quarterly_last_as_of_after_every_revision(client: TestClient) -> None:
    body = aligned(client, frequency="Q", as_of="2024-01-01")
    assert body["period_end"] == ["2022-12-31", "2023-03-31", "2023-06-30"]
    assert body["columns"] == {
        CPI: [None, 313.5, 306.0],  # March revised; a quarter's last month
        GDP: [WB_GDP_2022, None, None],  # 2023 annual unknown until 2024-07-01
        NGDP: [10.0, 11.0, 12.5],
    }
    assert list(body["columns"]) == [CPI, GDP, NGDP]  # the order asked
    assert body["missing"] == [] and body["warnings"] == []
    assert (body["frequency"], body["method"], body["as_of"]) == (
        "Q",
        "last",
        "2024-01-01T23:59:59.999999Z",
    )
    assert "labeled by its last day" in body["rule"]
    assert body["series"][GDP] == {
        "sources": ["worldbank"],
        "frequencies": ["A"],
        "units": [""],
        "observations": 1,
    }
    assert body["series"][NGDP]["observations"] == 3  # one version per period


def test_as_of_before_a_revision_shows_the_value_known_then(client: TestClient) -> None:
    body = aligned(client, frequency="Q", as_of="2023-09-01")
    assert body["columns"][CPI] == [None, 303.0, 306.0]
    assert body["columns"][NGDP] == [10.0, 11.0, 12.0]


def test_as_of_before_anything_was_known(client: TestClient) -> None:
    nothing = aligned(client, as_of="2023-06-30")
    assert nothing["missing"] == [CPI, GDP, NGDP]
    assert (nothing["period_end"], nothing["columns"], nothing["series"]) == ([], {}, {})

    only_wb = aligned(client, frequency="Q", as_of="2023-07-15")
    assert only_wb["missing"] == [CPI, NGDP]
    assert only_wb["period_end"] == ["2022-12-31"]
    assert only_wb["columns"] == {GDP: [WB_GDP_2022]}


def test_monthly_ffill_in_a_window_reads_spans_that_start_before_it(client: TestClient) -> None:
    body = aligned(
        client,
        frequency="M",
        method="ffill",
        start="2022-10-01",
        end="2023-03-31",
        as_of="2024-01-01",
    )
    assert body["period_end"] == [
        "2022-10-31",
        "2022-11-30",
        "2022-12-31",
        "2023-01-31",
        "2023-02-28",
        "2023-03-31",
    ]
    assert body["columns"] == {
        CPI: [None, None, None, 301.0, 302.0, 313.5],
        GDP: [WB_GDP_2022] * 3 + [None] * 3,  # 2022 from January 2022, read though before start
        NGDP: [10.0] * 3 + [11.0] * 3,
    }


def test_annual_mean(client: TestClient) -> None:
    body = aligned(client, frequency="A", method="mean", as_of="2024-01-01")
    assert body["period_end"] == ["2022-12-31", "2023-12-31"]
    assert body["columns"][CPI] == [None, pytest.approx((301 + 302 + 313.5 + 304 + 305 + 306) / 6)]
    assert body["columns"][GDP] == [WB_GDP_2022, None]
    assert body["columns"][NGDP] == [10.0, pytest.approx((11.0 + 12.5) / 2)]
    assert aligned(client, frequency="A", method="mean")["columns"][GDP] == [WB_GDP_2022, 27e12]


def test_unknown_series_is_missing_and_duplicates_are_asked_once(client: TestClient) -> None:
    response = client.get(
        "/v1/macro/aligned",
        params={"series": f"FRED:NOPE,{CPI},{CPI}", "frequency": "Q", "as_of": "2024-01-01"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["missing"] == ["FRED:NOPE"]
    assert body["columns"] == {CPI: [313.5, 306.0]}


def test_a_future_as_of_is_now_with_a_warning(client: TestClient) -> None:
    body = aligned(client, as_of="2199-01-01")
    assert body["as_of"] < "2199" and "in the future" in body["warnings"][0]
    assert body["columns"][GDP][-1] == 27e12


def test_the_calendar_is_bounded_to_its_latest_periods(tmp_path: Path) -> None:
    settings = DatasetsSettings(kafka_bootstrap="127.0.0.1:9", data_dir=tmp_path)
    known = utc(2024, 1, 1)
    months = [
        obs("FRED:LONG", utc(1900 + i // 12, i % 12 + 1, 1), "M", float(i), known)
        for i in range(1300)
    ]
    FactWriter(settings.lake_dir).write(months)
    body = (
        TestClient(build_app(settings))
        .get("/v1/macro/aligned", params={"series": "FRED:LONG"})
        .json()
    )
    assert len(body["period_end"]) == 1200
    assert body["period_end"][0] == "1908-05-31" and body["period_end"][-1] == "2008-04-30"
    assert body["columns"]["FRED:LONG"][0] == 100.0
    assert "1300 periods" in body["warnings"][0]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"series": ",".join(f"S{i}" for i in range(51))}, "series"),
        ({"series": f"{CPI}, {GDP}"}, "series"),
        ({"series": f"{CPI},,{GDP}"}, "series"),
        ({"series": "X" * 129}, "series"),
        ({"frequency": "W"}, "frequency"),
        ({"method": "median"}, "method"),
        ({"as_of": "yesterday"}, "as_of"),
        ({"start": "2023-02-30"}, "start"),
        ({"start": "2023-06-01", "end": "2023-01-01"}, "end"),
    ],
)
def test_invalid_parameters_are_422_naming_the_field(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    response = client.get("/v1/macro/aligned", params={"series": CPI, **params})
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["detail"]] == [["query", field]]


def test_missing_series_is_422(client: TestClient) -> None:
    response = client.get("/v1/macro/aligned", params={"frequency": "Q"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "series"]


def test_the_openapi_description_states_the_bounds(client: TestClient) -> None:
    operation = client.get("/openapi.json").json()["paths"]["/v1/macro/aligned"]["get"]
    assert "at most 50 series" in operation["description"]
    assert "at most\n1200 calendar periods" in operation["description"]
    assert {"200", "422"} <= set(operation["responses"])
