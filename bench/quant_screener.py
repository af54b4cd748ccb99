"""Screener and correlation-matrix latency through the gateway, 500 instruments x 10 years.

Goals (BENCHMARKS.md): a screen of 500 instruments x 10 years as of any date < 200 ms after
compaction; a correlation matrix of 100 symbols x 2,520 days < 50 ms through the API (anchor:
numpy corrcoef 1.4 ms + scipy average-linkage order 0.3 ms on the returns in memory).

Builds the synthetic lake of ``bench/datasets_queries.py`` (500 symbols, every weekday of
2015-2024, a yearly backfill then daily flushes), compacts it, starts broker, datasets, quant and
gateway on it, signs in as a researcher before any clock starts, and measures through the
gateway, every call carrying the bearer token the gateway verifies (p50/p95 over many calls,
after one call that transfers and parses the panel, reported as ``first_call_ms``):
- ``screener``: a filter, a sort and a limit of 50, each call at another as_of between 2016 and
  2024 (the panel is revalidated with a 304 on every call);
- ``correlations``: 100 symbols, window 2,520 daily returns, Pearson, clustered order.
References in this process, on the same panel read from ``GET /v1/panel``: ``run_screen`` itself
(the API's overhead is the ratio) and, for the screen, the same metrics the pandas way, one
instrument at a time; for the matrix, the anchor's numpy corrcoef + scipy average linkage on the
returns in memory. Prints one JSON object; never asserts wall-clock numbers.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._stack import running_stack  # noqa: E402
from bench.datasets_queries import SYMBOLS, build_lake  # noqa: E402
from sextant_datasets.cold import ColdStorageManager  # noqa: E402
from sextant_quant.screen.metrics import METRICS  # noqa: E402
from sextant_quant.screen.panel import Panel  # noqa: E402
from sextant_quant.screen.query import parse_filters, parse_sort  # noqa: E402
from sextant_quant.screen.screener import run_screen  # noqa: E402
from tests.support import auth_for  # noqa: E402

SCREEN = {"filter": "vol_60d<2,ret_12m>-0.9", "sort": "-mom_12_1", "limit": "50"}
CORRELATED = SYMBOLS[:100]
WINDOW = 2520
RUNS = 40


def latency_ms(calls: list[Callable[[], Any]]) -> dict[str, float]:
    """p50/p95 (ms) of ``calls``, each run once in order."""
    samples = []
    for call in calls:
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[int(0.95 * (len(samples) - 1))], 2),
        "runs": len(samples),
    }


def ok(response: httpx.Response) -> httpx.Response:
    response.raise_for_status()
    return response


def as_of_dates(count: int) -> list[str]:
    """``count`` seeded dates spread over 2016-2024."""
    days = pd.bdate_range("2016-01-04", "2024-12-31")
    picked = np.random.default_rng(11).choice(len(days), size=count, replace=False)
    return [days[i].strftime("%Y-%m-%d") for i in picked]


def pandas_screen(panel: Panel, as_of: str) -> int:
    """The screener's return, vol, drawdown and liquidity metrics the pandas way, per instrument
    (the reference the vectorized screen replaces); returns how many instruments it did."""
    frame = pd.DataFrame(panel.close, index=pd.DatetimeIndex(panel.dates), columns=panel.symbols)
    volume = pd.DataFrame(panel.volume, index=frame.index, columns=panel.symbols)
    done = 0
    for symbol in panel.symbols:
        close = frame[symbol].loc[:as_of].dropna()
        returns = close.pct_change()
        year = close.iloc[-252:]
        _ = (
            close.iloc[-1] / close.iloc[-253] - 1,
            close.iloc[-22] / close.iloc[-253] - 1,
            returns.iloc[-60:].std() * np.sqrt(252),
            returns.iloc[-252:].std() * np.sqrt(252),
            (year / year.cummax() - 1).min(),
            (close * volume[symbol].loc[close.index]).iloc[-20:].mean(),
        )
        done += 1
    return done


def in_process(panel: Panel) -> dict[str, Any]:
    """Ours without HTTP, the pandas screen, and the correlation anchor, on ``panel``."""
    filters = parse_filters([SCREEN["filter"]], METRICS)
    sort = parse_sort(SCREEN["sort"], METRICS)
    dates = as_of_dates(RUNS)
    ours = latency_ms(
        [
            (lambda d=d: run_screen(panel, np.datetime64(d, "D"), None, filters, sort, 50))
            for d in dates
        ]
    )
    reference = latency_ms([(lambda d=d: pandas_screen(panel, d)) for d in dates[:3]])
    columns = [panel.index[s] for s in CORRELATED]
    closes = panel.close[-(WINDOW + 1) :, columns]
    returns = closes[1:] / closes[:-1] - 1

    def anchor() -> None:
        corr = np.corrcoef(returns, rowvar=False)
        leaves_list(linkage(squareform(np.clip(1 - corr, 0, None), checks=False), "average"))

    return {
        "screen_run_screen": ours,
        "screen_pandas_per_instrument": reference,
        "correlation_anchor_numpy_scipy": latency_ms([anchor] * RUNS),
    }


def through_gateway(base: str, datasets: str) -> dict[str, Any]:
    """Screens and matrices through the gateway, and the panel's own transfer."""
    auth = auth_for(base)
    auth.token()  # sign in now, not inside the first timed call
    with httpx.Client(base_url=base, timeout=300, auth=auth) as client:
        began = time.perf_counter()
        ok(client.get("/api/v1/quant/screener", params={"limit": "1"}))
        first_ms = (time.perf_counter() - began) * 1000
        dates = as_of_dates(RUNS)
        screener = latency_ms(
            [
                (
                    lambda d=d: ok(
                        client.get("/api/v1/quant/screener", params={**SCREEN, "as_of": d})
                    )
                )
                for d in dates
            ]
        )
        params = {"symbols": ",".join(CORRELATED), "window": str(WINDOW)}
        body = ok(client.get("/api/v1/quant/correlations", params=params)).json()
        correlations = latency_ms(
            [lambda: ok(client.get("/api/v1/quant/correlations", params=params))] * RUNS
        )
    with httpx.Client(base_url=datasets, timeout=300) as client:
        began = time.perf_counter()
        stream = ok(client.get("/v1/panel")).content
        panel_ms = (time.perf_counter() - began) * 1000
        etag = client.get("/v1/panel").headers["etag"]
        revalidate = latency_ms(
            [lambda: client.get("/v1/panel", headers={"If-None-Match": etag})] * RUNS
        )
    began = time.perf_counter()
    panel = Panel.from_arrow(pa.ipc.open_stream(stream).read_all())
    _ = panel.packed
    parse_ms = (time.perf_counter() - began) * 1000
    return {
        "panel": {
            "rows": int((~np.isnan(panel.close)).sum()),
            "bytes": len(stream),
            "get_cached_ms": round(panel_ms, 1),
            "parse_and_pack_ms": round(parse_ms, 1),
            "revalidate_304": revalidate,
        },
        "screener_first_call_ms": round(first_ms, 1),
        "screener": screener,
        "correlations": correlations,
        "correlation_days": body["window"],
        "_panel": panel,
    }


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sextant-bench-screen-") as tmp:
        lake = Path(tmp) / "lake"
        build = build_lake(lake)
        compaction = ColdStorageManager(lake, grace_seconds=0).compact()
        with running_stack(["datasets", "quant", "gateway"], SEXTANT_DATA_DIR=tmp) as ports:
            api = through_gateway(
                f"http://127.0.0.1:{ports.gateway}", f"http://127.0.0.1:{ports.datasets}"
            )
    local = in_process(api.pop("_panel"))
    report = {
        "benchmark": "quant_screener",
        "lake": {
            "symbols": len(SYMBOLS),
            **build,
            "files_after_compaction": compaction.files_after,
        },
        "goals_ms": {"screener": 200, "correlations_100x2520": 50},
        "anchor_ms": {"corrcoef": 1.4, "average_linkage_order": 0.3},
        "api": api,
        "in_process": local,
        "ratios": {
            "screener_api_over_run_screen": round(
                api["screener"]["p50_ms"] / local["screen_run_screen"]["p50_ms"], 2
            ),
            "pandas_over_run_screen": round(
                local["screen_pandas_per_instrument"]["p50_ms"]
                / local["screen_run_screen"]["p50_ms"],
                1,
            ),
            "correlations_api_over_anchor": round(
                api["correlations"]["p50_ms"] / local["correlation_anchor_numpy_scipy"]["p50_ms"],
                2,
            ),
        },
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
