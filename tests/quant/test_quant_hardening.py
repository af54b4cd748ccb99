"""What an adversarial run of the stack found in the quant service, each reproduced end to end:
a sweep whose result is too large for an event, unbounded sweeps, dishonest answers."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Stack
from tests.integration.test_stack import spx_2008
from tests.support import auth_for, private_quant, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Generous timeouts: these tests load the machine on purpose (sweeps of up to 600,000 backtests).
http = httpx.Client(timeout=60)

FULL_GRID = {"fast": list(range(1, 101)), "slow": list(range(101, 201))}


@pytest.fixture(scope="module")
def stack(full_stack: Stack) -> Stack:
    wait_for(lambda: spx_2008(full_stack), 90, "SPX history stored")
    return full_stack


@pytest.fixture(scope="module")
def simulated(stack: Stack) -> list[str]:
    """The simulated market's daily symbols (52), once the ingest backfill stored them."""

    def daily() -> list[str] | None:
        entries = http.get(f"{stack.datasets_url}/v1/instruments").json()["instruments"]
        ids = [e["instrument_id"] for e in entries if e["source"] == "simulated"]
        return ids if len(ids) >= 52 else None

    return wait_for(daily, 90, "52 simulated instruments stored")[:52]


def quant_url(stack: Stack) -> str:
    return f"http://127.0.0.1:{stack.ports.quant}"


def final_state(gateway: str, path: str, timeout_s: float = 120) -> dict[str, Any]:
    """Poll ``GET gateway/path`` until the job succeeded or failed; return that state."""

    def done() -> dict[str, Any] | None:
        answer = http.get(f"{gateway}{path}", timeout=30, auth=auth_for(gateway, "viewer"))
        body: dict[str, Any] = answer.json()
        return body if body["status"] in ("succeeded", "failed") else None

    return wait_for(done, timeout_s, f"{path} to finish", every=0.3)


def detail_field(response: httpx.Response) -> str:
    detail = response.json()["detail"]
    assert isinstance(detail, list), response.text
    return str(detail[0]["loc"][1])


def test_a_sweep_too_large_for_an_event_succeeds_and_the_runner_survives(
    stack: Stack, simulated: list[str]
) -> None:
    # The full 100 x 100 grid over the 52 simulated symbols: a ~20 MB result, which used to hit
    # MessageSizeTooLargeError, kill the runner, and turn every later job into a 500.
    queued = http.post(
        f"{stack.gateway_url}/api/v1/sweeps",
        json={"symbols": simulated, **FULL_GRID},
        timeout=30,
        auth=stack.auth(),
    )
    assert queued.status_code == 202, queued.text
    job_id = queued.json()["job_id"]
    state = final_state(stack.gateway_url, f"/api/v1/sweeps/{job_id}")
    assert state["status"] == "succeeded", state
    result = state["result"]  # the GET carries the full result, read from the job store
    assert len(result["pairs"]) == 10_000 and len(result["sharpe"]) == 10_000
    assert len(result["total_return"][0]) == 52
    assert state["result_ref"] and state["result_summary"]["bars"] == result["bars"]
    # The simulated history is shorter than the slow windows: the result says so.
    assert result["bars"] < 101 and result["best"] is None
    assert "no signal possible" in result["warnings"][0]
    assert http.get(f"{quant_url(stack)}/health").status_code == 200
    after = http.post(
        f"{stack.gateway_url}/api/v1/backtests",
        json={"symbol": "SPX", "strategy": "BH"},
        auth=stack.auth(),
    )
    assert after.status_code == 202, after.text
    done = final_state(stack.gateway_url, f"/api/v1/backtests/{after.json()['job_id']}")
    assert done["status"] == "succeeded", done


def test_sweeps_are_bounded_and_repeats_count_once(stack: Stack) -> None:
    too_big = http.post(
        f"{stack.gateway_url}/api/v1/sweeps",
        json={"symbols": [f"S{i:03d}" for i in range(1000)], **FULL_GRID},
        auth=stack.auth(),
    )
    assert too_big.status_code == 422, too_big.text
    assert detail_field(too_big) == "symbols"
    assert "10,000,000 backtests" in too_big.text
    repeated = http.post(
        f"{stack.gateway_url}/api/v1/sweeps",
        json={"symbols": ["SPX"] * 1000, "fast": [10, 10, 20], "slow": [50, 50]},
        auth=stack.auth(),
    )
    assert repeated.status_code == 202, repeated.text
    state = final_state(stack.gateway_url, f"/api/v1/sweeps/{repeated.json()['job_id']}")
    assert state["status"] == "succeeded", state
    assert state["result"]["symbols"] == ["SPX"]
    assert state["result"]["pairs"] == [[10, 50], [20, 50]]


def test_unknown_symbols_are_refused_at_submit(stack: Stack) -> None:
    backtest = http.post(
        f"{stack.gateway_url}/api/v1/backtests",
        json={"symbol": "NOSUCH", "strategy": "BH"},
        auth=stack.auth(),
    )
    assert backtest.status_code == 404, backtest.text
    assert detail_field(backtest) == "symbol" and "NOSUCH" in backtest.text
    sweep = http.post(
        f"{stack.gateway_url}/api/v1/sweeps",
        json={"symbols": ["SPX", "NOSUCH", "NOPE"], "fast": [10], "slow": [50]},
        auth=stack.auth(),
    )
    assert sweep.status_code == 404, sweep.text
    assert detail_field(sweep) == "symbols"
    assert "NOSUCH, NOPE" in sweep.text and "SPX" not in sweep.json()["detail"][0]["msg"]


def test_windows_longer_than_the_data_say_why_there_are_no_trades(stack: Stack) -> None:
    body = {"symbol": "SPX", "strategy": "50SMA.200EMA", "start": "2018-06-01"}
    queued = http.post(f"{stack.gateway_url}/api/v1/backtests", json=body, auth=stack.auth())
    assert queued.status_code == 202, queued.text
    state = final_state(stack.gateway_url, f"/api/v1/backtests/{queued.json()['job_id']}")
    assert state["status"] == "succeeded", state
    result = state["result"]
    assert result["summary"]["n_trades"] == 0
    assert result["warnings"] and "no signal possible" in result["warnings"][0]
    assert f"holds {result['bars']}" in result["warnings"][0]
    normal = dict(body, start="2010-01-01")
    ok = http.post(f"{stack.gateway_url}/api/v1/backtests", json=normal, auth=stack.auth()).json()
    state = final_state(stack.gateway_url, f"/api/v1/backtests/{ok['job_id']}")
    assert state["result"]["warnings"] == [] and state["result"]["summary"]["n_trades"] > 0


def test_a_sweep_over_histories_without_common_dates_names_their_ranges(
    stack: Stack, simulated: list[str]
) -> None:
    queued = http.post(
        f"{stack.gateway_url}/api/v1/sweeps",
        json={"symbols": ["SPX", simulated[0]], "fast": [10], "slow": [50]},
        auth=stack.auth(),
    )
    assert queued.status_code == 202, queued.text
    state = final_state(stack.gateway_url, f"/api/v1/sweeps/{queued.json()['job_id']}")
    assert state["status"] == "failed"
    error = state["error"]
    assert "no date in common" in error, error
    assert "SPX 1999-01-04..2018-12-31" in error and f"{simulated[0]} 20" in error


def test_var_names_weights_that_are_not_finite_or_overflow(stack: Stack) -> None:
    url = f"{quant_url(stack)}/v1/risk/var"
    huge = http.post(url, json={"symbols": ["SPX", "COMP"], "weights": [1e308, 1e308]})
    assert huge.status_code == 422, huge.text
    assert detail_field(huge) == "weights" and "not finite" in huge.text
    nan = http.post(
        url,
        content=b'{"symbols":["SPX","COMP"],"weights":[NaN,0.5]}',
        headers={"content-type": "application/json"},
    )
    assert nan.status_code == 422, nan.text
    assert nan.json()["detail"][0]["loc"][:2] == ["body", "weights"]
    fine = http.post(url, json={"symbols": ["SPX", "COMP"], "weights": [0.5, 0.5]})
    assert fine.status_code == 200 and fine.json()["cvar"] > fine.json()["var"] > 0


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def test_the_api_stays_responsive_during_the_largest_allowed_sweep(
    stack: Stack, simulated: list[str]
) -> None:
    quant = quant_url(stack)
    query = f"{quant}/v1/regimes?symbol=SPX&start=2016-01-01&history=0"

    def timed() -> float:
        started = time.perf_counter()
        assert http.get(query, timeout=60).status_code == 200
        return time.perf_counter() - started

    timed()  # fit once: later calls are served from the fit cache
    quiet = [timed() for _ in range(30)]
    # The largest sweeps the service accepts on this market, back to back: the full grid over
    # the 52 simulated symbols (520,000 backtests), then over the two long histories (5,031
    # bars each) with SMAs and with EMAs.
    started = time.perf_counter()
    jobs = [
        http.post(
            f"{quant}/v1/sweeps", json={"symbols": symbols, "kind": kind, **FULL_GRID}, timeout=30
        )
        for symbols, kind in (
            (simulated, "SMA"),
            (["SPX", "COMP"], "SMA"),
            (["SPX", "COMP"], "EMA"),
        )
    ]
    assert all(j.status_code == 202 for j in jobs), [j.text for j in jobs]
    busy: list[float] = []
    finished: dict[str, float] = {}
    while len(finished) < len(jobs) and time.perf_counter() - started < 180:
        busy.append(timed())
        for job_id in {j.json()["job_id"] for j in jobs} - finished.keys():
            state = http.get(f"{quant}/v1/sweeps/{job_id}", timeout=60)
            status = state.json()["status"]
            if status in ("succeeded", "failed"):
                assert status == "succeeded", state.text[:500]
                finished[job_id] = time.perf_counter() - started
    assert len(finished) == len(jobs), "sweeps did not finish within 180 s"
    assert len(busy) >= 10, f"only {len(busy)} queries while the sweeps ran"
    quiet_p95, busy_p95 = _p95(quiet), _p95(busy)
    report = (
        f"cached regimes query p95: {quiet_p95 * 1000:.0f} ms quiet, {busy_p95 * 1000:.0f} ms "
        f"during the sweeps ({len(busy)} samples); sweeps done after "
        f"{', '.join(f'{t:.1f}' for t in finished.values())} s"
    )
    print(report)
    assert busy_p95 <= max(3 * quiet_p95, quiet_p95 + 0.2), report


def test_a_full_job_queue_answers_429_with_retry_after(
    kafka_bootstrap: str, stack: Stack, tmp_path: Path
) -> None:
    with private_quant(
        kafka_bootstrap, stack.datasets_url, tmp_path, SEXTANT_QUANT_JOB_QUEUE_MAX="1"
    ) as quant:
        body = {"symbols": ["SPX", "COMP"], **FULL_GRID}
        answers = [http.post(f"{quant}/v1/sweeps", json=body, timeout=30) for _ in range(4)]
        statuses = [a.status_code for a in answers]
        # One sweep runs (~1 s), one waits; the others find the queue full.
        assert statuses[0] == 202 and 429 in statuses and set(statuses) == {202, 429}, statuses
        refused = next(a for a in answers if a.status_code == 429)
        assert int(refused.headers["retry-after"]) >= 1
        assert "job queue full" in refused.json()["detail"]
