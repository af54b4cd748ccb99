"""Option chain snapshots in the lake: every snapshot kept once, the latest one at or before
``as_of`` served by ``GET /v1/options/chain`` (errors naming the field)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from sextant_common.events import OptionQuote, OptionRight
from sextant_datasets.options.routes import chain_router
from sextant_datasets.options.store import OptionChainReader, option_writer

T1 = datetime(2026, 6, 1, 15, tzinfo=UTC)
T2 = T1 + timedelta(hours=1)
EXPIRIES = (date(2026, 6, 19), date(2026, 9, 18))


def snapshot(at: datetime, spot: float, source: str = "simulated") -> list[OptionQuote]:
    return [
        OptionQuote(
            contract=f"ACME{expiry:%y%m%d}{right.value[0].upper()}{int(strike * 1000):08d}",
            underlying="ACME",
            expiry=expiry,
            strike=strike,
            right=right,
            ts_event=at,
            bid=1.0,
            ask=1.1,
            underlying_price=spot,
            source=source,
            ts_known=at + timedelta(seconds=1),
        )
        for expiry in EXPIRIES
        for strike in (90.0, 100.0, 110.0)
        for right in OptionRight
    ]


def test_snapshots_are_kept_once_each_and_read_as_of(tmp_path: Path) -> None:
    writer = option_writer(tmp_path)
    first = writer.write(snapshot(T1, 100.0))
    again = writer.write(snapshot(T1, 100.0) + snapshot(T2, 101.0))
    assert first.written == {"options": 12}
    assert again.written == {"options": 12} and again.duplicates == {"options": 12}

    reader = OptionChainReader(tmp_path)
    latest = reader.chain("ACME", T2 + timedelta(minutes=1))
    assert latest is not None and latest.snapshot == T2 and latest.expiries == list(EXPIRIES)
    assert len(latest.quotes) == 12 and {q["underlying_price"] for q in latest.quotes} == {101.0}
    assert [(q["strike"], q["right"]) for q in latest.quotes[:2]] == [(90.0, "call"), (90.0, "put")]
    # taken at T2 but learned a second later: as of T2 itself the earlier snapshot is the latest
    assert reader.chain("ACME", T2).snapshot == T1  # type: ignore[union-attr]
    assert reader.chain("ACME", T1) is None
    one = reader.chain("ACME", T2 + timedelta(minutes=1), expiry=EXPIRIES[1])
    assert one is not None and {q["expiry"] for q in one.quotes} == {EXPIRIES[1]}
    assert reader.chain("OTHER", T2 + timedelta(minutes=1)) is None


def test_the_route_names_the_field_of_a_miss(tmp_path: Path) -> None:
    writer = option_writer(tmp_path)
    writer.write(snapshot(T1, 100.0) + snapshot(T2, 99.0, source="polygon"))
    app = FastAPI()
    app.include_router(chain_router(tmp_path))
    client = TestClient(app)

    latest = client.get("/v1/options/chain", params={"underlying": "ACME"}).json()
    assert (latest["source"], latest["snapshot"], latest["count"]) == (
        "polygon",
        "2026-06-01T16:00:00Z",
        12,
    )
    simulated = client.get(
        "/v1/options/chain", params={"underlying": "ACME", "source": "simulated"}
    ).json()
    assert simulated["snapshot"] == "2026-06-01T15:00:00Z"
    # a later simulated snapshot does not shadow the real one
    writer.write(snapshot(T2 + timedelta(hours=1), 98.0))
    real = client.get("/v1/options/chain", params={"underlying": "ACME"}).json()
    assert (real["source"], real["snapshot"]) == ("polygon", "2026-06-01T16:00:00Z")

    missing = client.get("/v1/options/chain", params={"underlying": "NOPE"})
    assert missing.status_code == 404 and "underlying" in missing.json()["detail"]
    unlisted = client.get(
        "/v1/options/chain", params={"underlying": "ACME", "expiry": "2027-01-15"}
    )
    assert unlisted.status_code == 422
    detail = unlisted.json()["detail"][0]
    assert detail["loc"] == ["query", "expiry"] and "2026-06-19, 2026-09-18" in detail["msg"]
    bad = client.get("/v1/options/chain", params={"underlying": "ACME", "as_of": "yesterday"})
    assert bad.status_code == 422 and "as_of" in str(bad.json()["detail"])
