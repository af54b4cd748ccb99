"""MA-cross sweeps on Ray: identical to the in-process sweep; unreachable clusters fail fast."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator

import numpy as np
import pytest
import ray

from sextant_quant.backtest import BacktestInputError, sweep_ma_cross
from sextant_quant.backtest.sweep_ray import sweep_on_ray

pytestmark = pytest.mark.slow  # starting local Ray and its workers takes ~5-8 s


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def closes(n_bars: int, n_inst: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out: np.ndarray = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, (n_bars, n_inst)), axis=0))
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_sweep_on_ray_equals_in_process(local_ray: None) -> None:
    close = closes(600, 7)
    pairs = [(5, 20), (10, 50), (20, 100), (3, 200)]
    ref = sweep_ma_cross(close, pairs, fees=0.001, slippage=0.0005)
    for chunks in (None, 3, 7, 50):  # default (cluster CPUs), uneven, one per column, > columns
        got = sweep_on_ray(close, pairs, fees=0.001, slippage=0.0005, chunks=chunks)
        assert np.array_equal(got.pairs, ref.pairs)
        assert np.array_equal(got.total_return, ref.total_return)
        assert np.array_equal(got.sharpe, ref.sharpe, equal_nan=True)
        assert np.array_equal(got.n_trades, ref.n_trades)
    one = sweep_on_ray(close[:, 2], pairs, fees=0.0, slippage=0.0, fast_kind="EMA")
    assert np.array_equal(
        one.total_return, sweep_ma_cross(close[:, 2], pairs, fast_kind="EMA").total_return
    )


def test_bad_input_fails_before_ray_starts() -> None:
    with pytest.raises(BacktestInputError, match="fast must be < slow"):
        sweep_on_ray(closes(50, 2), [(20, 5)], fees=0.0, slippage=0.0, address="nowhere:1")
    with pytest.raises(BacktestInputError, match="chunks"):
        sweep_on_ray(closes(50, 2), [(2, 5)], fees=0.0, slippage=0.0, chunks=0)


def test_unreachable_address_names_it() -> None:
    address = f"127.0.0.1:{free_port()}"
    start = time.perf_counter()
    with pytest.raises(ConnectionError, match=re.escape(address)):
        sweep_on_ray(closes(50, 2), [(2, 5)], fees=0.0, slippage=0.0, address=address)
    assert time.perf_counter() - start < 10
    with pytest.raises(ValueError, match="no-port-here"):
        sweep_on_ray(closes(50, 2), [(2, 5)], fees=0.0, slippage=0.0, address="no-port-here")
