"""Technical indicators against TA-Lib (the oracle: never imported by the service), on the
shipped S&P 500 and on random walks with gaps, flat stretches, zero volume and penny prices;
then ``GET /v1/indicators`` on the real quant service and through the gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
import talib
from arch.data import sp500

from sextant_quant import technical
from sextant_quant.technical.catalog import SPECS, parse_indicator
from tests.conftest import Stack
from tests.integration.test_stack import spx_2008
from tests.support import auth_for, wait_for

Bars = dict[str, np.ndarray]
TOLERANCE = 1e-9


def _sp500() -> Bars:
    frame = sp500.load()
    return {
        "high": frame["High"].to_numpy(float),
        "low": frame["Low"].to_numpy(float),
        "close": frame["Close"].to_numpy(float),
        "volume": frame["Volume"].to_numpy(float),
    }


def _walk(seed: int, level: float = 100.0, n: int = 3000) -> Bars:
    """A log-normal walk with overnight gaps, a 60-day stretch where open = high = low = close
    (flat), a 3-day flat close, a week of ±20% gaps and 20 days without volume."""
    rng = np.random.default_rng(seed)
    close = level * np.exp(np.cumsum(rng.normal(0.0, 0.02, n)))
    close[1200:1205] *= np.array([1.2, 0.8, 1.25, 0.75, 1.2])
    close[500:560] = close[499]
    close[1000:1003] = close[999]
    opening = close * np.exp(rng.normal(0.0, 0.01, n))
    high = np.maximum(opening, close) * np.exp(np.abs(rng.normal(0.0, 0.01, n)))
    low = np.minimum(opening, close) * np.exp(-np.abs(rng.normal(0.0, 0.01, n)))
    high[500:560] = low[500:560] = close[500:560]
    volume = rng.integers(100_000, 10_000_000, n).astype(float)
    volume[700:720] = 0.0
    return {"high": high, "low": low, "close": close, "volume": volume}


def _flat(n: int = 300) -> Bars:
    """Constant prices: every oscillator's 0/0 case (RSI, ADX, CCI, STOCH, WILLR, MFI)."""
    price = np.full(n, 7.3)
    return {"high": price, "low": price, "close": price.copy(), "volume": np.ones(n)}


SERIES: dict[str, Callable[[], Bars]] = {
    "sp500": _sp500,
    "walk": lambda: _walk(1),
    "walk-2": lambda: _walk(2),
    "penny": lambda: _walk(7, level=1e-3),  # below TA-Lib's old fixed zero bands
    "flat": _flat,
}

# (name, ours, TA-Lib's) -- each a function of the bars returning one or more arrays.
Pair = tuple[str, Callable[[Bars], Any], Callable[[Bars], Any]]
PAIRS: list[Pair] = [
    ("sma", lambda b: technical.sma(b["close"], 20), lambda b: talib.SMA(b["close"], 20)),
    ("ema", lambda b: technical.ema(b["close"], 50), lambda b: talib.EMA(b["close"], 50)),
    ("wma", lambda b: technical.wma(b["close"], 20), lambda b: talib.WMA(b["close"], 20)),
    ("rsi", lambda b: technical.rsi(b["close"], 14), lambda b: talib.RSI(b["close"], 14)),
    ("rsi-2", lambda b: technical.rsi(b["close"], 2), lambda b: talib.RSI(b["close"], 2)),
    ("macd", lambda b: technical.macd(b["close"]), lambda b: talib.MACD(b["close"])),
    (
        "macd-swapped",
        lambda b: technical.macd(b["close"], 26, 12, 1),
        lambda b: talib.MACD(b["close"], 26, 12, 1),
    ),
    (
        "bbands",
        lambda b: technical.bbands(b["close"], 20, 2.0, 1.5),
        lambda b: talib.BBANDS(b["close"], 20, 2.0, 1.5),
    ),
    (
        "atr",
        lambda b: technical.atr(b["high"], b["low"], b["close"], 14),
        lambda b: talib.ATR(b["high"], b["low"], b["close"], 14),
    ),
    (
        "atr-1",
        lambda b: technical.atr(b["high"], b["low"], b["close"], 1),
        lambda b: talib.ATR(b["high"], b["low"], b["close"], 1),
    ),
    (
        "adx",
        lambda b: technical.adx(b["high"], b["low"], b["close"], 14),
        lambda b: (
            talib.ADX(b["high"], b["low"], b["close"], 14),
            talib.PLUS_DI(b["high"], b["low"], b["close"], 14),
            talib.MINUS_DI(b["high"], b["low"], b["close"], 14),
        ),
    ),
    (
        "obv",
        lambda b: technical.obv(b["close"], b["volume"]),
        lambda b: talib.OBV(b["close"], b["volume"]),
    ),
    (
        "stoch",
        lambda b: technical.stoch(b["high"], b["low"], b["close"], 14, 3, 3),
        lambda b: talib.STOCH(b["high"], b["low"], b["close"], 14, 3, 0, 3, 0),
    ),
    (
        "willr",
        lambda b: technical.willr(b["high"], b["low"], b["close"], 14),
        lambda b: talib.WILLR(b["high"], b["low"], b["close"], 14),
    ),
    (
        "cci",
        lambda b: technical.cci(b["high"], b["low"], b["close"], 20),
        lambda b: talib.CCI(b["high"], b["low"], b["close"], 20),
    ),
    ("roc", lambda b: technical.roc(b["close"], 10), lambda b: talib.ROC(b["close"], 10)),
    ("mom", lambda b: technical.mom(b["close"], 10), lambda b: talib.MOM(b["close"], 10)),
    (
        "mfi",
        lambda b: technical.mfi(b["high"], b["low"], b["close"], b["volume"], 14),
        lambda b: talib.MFI(b["high"], b["low"], b["close"], b["volume"], 14),
    ),
]


def _as_tuple(out: Any) -> tuple[np.ndarray, ...]:
    return tuple(out) if isinstance(out, tuple | list) else (out,)


@pytest.mark.parametrize("series", list(SERIES))
@pytest.mark.parametrize(("name", "ours", "theirs"), PAIRS, ids=[p[0] for p in PAIRS])
def test_each_indicator_equals_talib(
    series: str, name: str, ours: Callable[[Bars], Any], theirs: Callable[[Bars], Any]
) -> None:
    bars = SERIES[series]()
    got, want = _as_tuple(ours(bars)), _as_tuple(theirs(bars))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.dtype == np.float64 and g.shape == w.shape
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w))  # same warm-up rows
        valid = ~np.isnan(w)
        assert valid.any()
        # absolute below 1, relative above (OBV runs to 1e11)
        err = np.abs(g[valid] - w[valid]) / np.maximum(1.0, np.abs(w[valid]))
        assert err.max() <= TOLERANCE, f"{name} on {series}: {err.max():.3g}"


def test_the_flat_series_reads_zero_where_talib_answers_zero() -> None:
    """Not only close to TA-Lib: the 0/0 cases are exactly 0, bands collapse on the price."""
    bars = _flat()
    upper, middle, lower = technical.bbands(bars["close"], 20)
    assert np.array_equal(upper[19:], middle[19:]) and np.array_equal(lower[19:], middle[19:])
    for out in (
        technical.rsi(bars["close"], 14),
        technical.cci(bars["high"], bars["low"], bars["close"], 20),
        *technical.adx(bars["high"], bars["low"], bars["close"], 14),
        technical.mfi(bars["high"], bars["low"], bars["close"], bars["volume"], 14),
    ):
        assert set(out[~np.isnan(out)]) == {0.0}


def test_talib_macd_is_not_the_difference_of_two_talib_emas() -> None:
    """The reason ``macd`` seeds its fast EMA at row slow - 1: the naive line is off."""
    close = _sp500()["close"]
    line = technical.macd(close)[0]
    naive = technical.ema(close, 12) - technical.ema(close, 26)
    assert np.nanmax(np.abs(line - naive)) > 1e-3


def test_every_catalog_lookback_is_the_first_row_where_all_outputs_have_values() -> None:
    bars = _walk(3)
    for spec in SPECS.values():
        request = parse_indicator(spec.name)
        outputs = request.compute(bars | {"open": bars["close"]})
        lookback = request.lookback
        for name, out in outputs.items():
            assert not np.isnan(out[lookback:]).any(), name
        if lookback:
            assert any(np.isnan(out[lookback - 1]) for out in outputs.values()), spec.name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kama:10", "unknown indicator 'kama'"),
        ("sma:1", "period must be an integer from 2"),
        ("sma:20.5", "period must be an integer"),
        ("sma:x", "got 'x'"),
        ("macd:12:26:9:4", "macd takes at most 3"),
        ("bbands:20:-1", "nbdev must be a number from 0.0"),
        ("obv:3", "obv takes at most 0"),
    ],
)
def test_bad_indicator_text_says_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_indicator(text)


def test_parsing_fills_defaults_and_spells_the_key_in_full() -> None:
    request = parse_indicator("MACD:5")
    assert dict(request.values) == {"fast": 5, "slow": 26, "signal": 9}
    assert request.key == "macd:5:26:9" and request.lookback == 33
    assert parse_indicator("bbands:20:2.5").key == "bbands:20:2.5"


def test_non_finite_prices_are_refused_with_the_row() -> None:
    close = np.array([1.0, 2.0, np.nan, 4.0])
    with pytest.raises(ValueError, match="close must be finite, got nan at row 2"):
        technical.sma(close, 2)


@pytest.fixture(scope="module")
def urls(full_stack: Stack) -> dict[str, str]:
    """``/v1/indicators`` on the quant service itself and through the gateway."""
    wait_for(lambda: spx_2008(full_stack), 90, "SPX history stored")
    return {
        "quant": f"http://127.0.0.1:{full_stack.ports.quant}/v1/indicators",
        "gateway": f"{full_stack.gateway_url}/api/v1/quant/indicators",
    }


def indicators(urls: dict[str, str], via: str, params: Any) -> httpx.Response:
    """``GET /v1/indicators`` ``via`` the quant service (no token: an internal service) or the
    gateway (a viewer's token)."""
    auth = auth_for(urls["gateway"], "viewer") if via == "gateway" else None
    return httpx.get(urls[via], params=params, timeout=60, auth=auth)


@pytest.mark.integration
@pytest.mark.slow
class TestIndicatorsApi:
    """``GET /v1/indicators`` on the real quant service and through the gateway (SPX from the
    shipped S&P 500 in the lake)."""

    QUERY = {
        "symbol": "SPX",
        "indicators": "sma:20,ema:50,rsi:14,macd:12:26:9,bbands:20:2,atr:14,adx:14,obv",
        "start": "2008-01-01",
        "end": "2008-12-31",
    }

    @pytest.mark.parametrize("via", ["quant", "gateway"])
    def test_spx_2008_indicators_equal_talib(self, urls: dict[str, str], via: str) -> None:
        response = indicators(urls, via, self.QUERY)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["symbol"] == "SPX" and body["source"] == "shipped" and not body["simulated"]
        # the history before start is the warm-up: TA-Lib over everything up to end, 2008 kept
        frame = sp500.load().loc[:"2008"]
        in_range = frame.index >= "2008-01-01"
        assert body["dates"] == [d.strftime("%Y-%m-%d") for d in frame.index[in_range]]
        high, low, close = (frame[c].to_numpy(float) for c in ("High", "Low", "Close"))
        volume = frame["Volume"].to_numpy(float)
        want = {
            "sma:20": {"sma": talib.SMA(close, 20)},
            "ema:50": {"ema": talib.EMA(close, 50)},
            "rsi:14": {"rsi": talib.RSI(close, 14)},
            "macd:12:26:9": dict(
                zip(("macd", "signal", "hist"), talib.MACD(close, 12, 26, 9), strict=True)
            ),
            "bbands:20:2": dict(
                zip(("upper", "middle", "lower"), talib.BBANDS(close, 20, 2.0, 2.0), strict=True)
            ),
            "atr:14": {"atr": talib.ATR(high, low, close, 14)},
            "adx:14": {
                "adx": talib.ADX(high, low, close, 14),
                "plus_di": talib.PLUS_DI(high, low, close, 14),
                "minus_di": talib.MINUS_DI(high, low, close, 14),
            },
            "obv": {"obv": talib.OBV(close, volume)},
        }
        got = {s["key"]: s for s in body["indicators"]}
        assert list(got) == list(want)
        assert got["macd:12:26:9"]["params"] == {"fast": 12, "slow": 26, "signal": 9}
        assert got["macd:12:26:9"]["lookback"] == 33
        for key, outputs in want.items():
            assert list(got[key]["outputs"]) == list(outputs)
            for name, everything in outputs.items():
                expected = everything[in_range]
                assert not np.isnan(expected).any()  # warmed up before 2008
                values = got[key]["outputs"][name]
                actual = np.array([np.nan if v is None else v for v in values])
                np.testing.assert_array_equal(np.isnan(actual), np.isnan(expected))
                ok = ~np.isnan(expected)
                err = np.abs(actual[ok] - expected[ok]) / np.maximum(1.0, np.abs(expected[ok]))
                assert err.max() <= TOLERANCE, f"{key}.{name}: {err.max():.3g}"

    def test_a_simulated_instrument_is_labeled_and_equals_talib(
        self, urls: dict[str, str], full_stack: Stack
    ) -> None:
        def simulated_equity() -> str | None:
            listing = httpx.get(
                f"{full_stack.gateway_url}/api/v1/instruments", timeout=30, auth=full_stack.auth()
            )
            entries = listing.json()["instruments"]
            sources: dict[str, set[str]] = {}
            for e in entries:
                sources.setdefault(e["instrument_id"], set()).add(e["source"])
            return next(
                (
                    e["instrument_id"]
                    for e in entries
                    if e["source"] == "simulated"
                    and e["asset_class"] == "equity"
                    and "1d" in e["intervals"]
                    and e["rows"] >= 60
                    and sources[e["instrument_id"]] == {"simulated"}
                ),
                None,
            )

        symbol = wait_for(simulated_equity, 90, "a simulated equity with 60 daily bars")
        response = indicators(urls, "gateway", {"symbol": symbol, "indicators": "adx:14,stoch"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["source"] == "simulated" and body["simulated"] is True
        bars = httpx.get(
            f"{full_stack.gateway_url}/api/v1/bars",
            params={"symbol": symbol},
            timeout=60,
            auth=full_stack.auth(),
        ).json()["bars"]
        assert body["dates"] == [b["ts_event"][:10] for b in bars]
        high, low, close = (np.array([b[f] for b in bars], float) for f in ("high", "low", "close"))
        adx, k = (s["outputs"] for s in body["indicators"])
        for got, want in (
            (adx["adx"], talib.ADX(high, low, close, 14)),
            (adx["minus_di"], talib.MINUS_DI(high, low, close, 14)),
            (k["k"], talib.STOCH(high, low, close, 14, 3, 0, 3, 0)[0]),
        ):
            actual = np.array([np.nan if v is None else v for v in got])
            np.testing.assert_allclose(actual, want, rtol=1e-12, atol=1e-9)

    @pytest.mark.parametrize("via", ["quant", "gateway"])
    def test_repeated_parameters_are_one_list(self, urls: dict[str, str], via: str) -> None:
        response = indicators(
            urls, via, [("symbol", "SPX"), ("indicators", "sma"), ("indicators", "rsi,sma:20")]
        )
        assert response.status_code == 200, response.text
        assert [s["key"] for s in response.json()["indicators"]] == ["sma:20", "rsi:14"]

    def test_a_start_after_the_history_is_a_422_naming_start(self, urls: dict[str, str]) -> None:
        params = {"symbol": "SPX", "indicators": "sma", "start": "2030-01-01"}
        response = indicators(urls, "gateway", params)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == ["query", "start"]

    @pytest.mark.parametrize(
        ("params", "status", "text"),
        [
            ({"symbol": "SPX", "indicators": "kama:10"}, 422, "unknown indicator"),
            ({"symbol": "SPX", "indicators": "rsi:1"}, 422, "period must be an integer"),
            (
                {
                    "symbol": "SPX",
                    "indicators": "sma:300",
                    "start": "1999-01-01",
                    "end": "1999-06-30",
                },
                422,
                "sma:300 needs 300 bars",
            ),
            ({"symbol": "NOSUCH", "indicators": "sma"}, 404, ""),
        ],
    )
    def test_bad_requests(
        self, urls: dict[str, str], params: dict[str, str], status: int, text: str
    ) -> None:
        response = indicators(urls, "gateway", params)
        assert response.status_code == status, response.text
        if status == 422:
            detail = response.json()["detail"][0]
            assert detail["loc"] == ["query", "indicators"]
            assert text in detail["msg"]
