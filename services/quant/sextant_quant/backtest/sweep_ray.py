"""Moving-average-cross parameter sweeps spread over a Ray cluster (or local Ray).

``sweep_on_ray`` splits the instruments (columns of ``close``) into chunks, runs
``sweep_ma_cross`` on each chunk as one Ray task and concatenates the results in column order, so
the result is identical (bit for bit) to ``sweep_ma_cross`` in process: every instrument's backtest
is independent of the others.

Operational notes (measured on a 2-core machine):

* The price matrix goes into the object store once (``ray.put``); tasks receive the reference and
  a column range, and read the array zero-copy from shared memory on their node.
* The numba kernels are compiled with ``cache=True``. A fresh worker process loads them from the
  on-disk cache on its first task: ~1.1 s (0.5 s importing numba + the package, 0.6 s loading the
  parallel kernel); with no cache it compiles them, ~6 s per worker, and writes the cache. Numba
  writes the cache next to the source when that is writable, else under ``~/.cache/numba``; on a
  cluster whose nodes have neither writable, pass ``numba_cache_dir`` (a writable path on every
  node), which is set as ``NUMBA_CACHE_DIR`` for the tasks. The driver also runs the sweep on one
  bar to validate the inputs (~0.6 s the first time it loads the kernel in the process).
* Starting local Ray takes ~3.5 s and its first tasks ~3 s more (worker processes); later sweeps
  reuse the running instance and its warm workers (milliseconds of overhead per sweep).
* Each task reserves one CPU and runs numba single-threaded, so Ray (not numba's thread pool) owns
  the parallelism and N tasks on an N-core node do not oversubscribe it.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import BacktestInputError, check_prices
from .indicators import MaKind
from .vectorized import DEFAULT_INIT_CASH, PERIODS_PER_YEAR, SweepResult, sweep_ma_cross

CONNECT_TIMEOUT_S = 5.0
"""How long to wait for a cluster's head node to accept a TCP connection before giving up."""


def sweep_on_ray(
    close_2d: ArrayLike,
    pairs: Sequence[tuple[int, int]] | ArrayLike,
    *,
    fees: float,
    slippage: float,
    address: str | None = None,
    chunks: int | None = None,
    fast_kind: MaKind = "SMA",
    slow_kind: MaKind = "SMA",
    init_cash: float = DEFAULT_INIT_CASH,
    periods_per_year: float = PERIODS_PER_YEAR,
    numba_cache_dir: str | None = None,
) -> SweepResult:
    """``sweep_ma_cross`` with the instruments split into ``chunks`` Ray tasks.

    ``close_2d`` is bars x instruments (1-D = one instrument); ``pairs``, ``fees`` and
    ``slippage`` (fractions) and the other keywords mean what they do in ``sweep_ma_cross``, and
    the result equals its result exactly. ``address`` is a Ray cluster's GCS address
    (``"host:6379"``) or ``"auto"``; ``None`` starts (or reuses) a local Ray with all CPUs. A
    given address is always checked for reachability, but if Ray is already initialized in this
    process that connection is used (``ray.shutdown()`` first to switch). The cluster's nodes need
    ``sextant_quant`` installed (tasks import it). ``chunks`` defaults to the
    cluster's CPU count (capped at the number of instruments).

    Raises ``BacktestInputError`` for bad inputs before contacting Ray, ``ValueError`` for a
    malformed address and ``ConnectionError`` naming the address when the cluster is unreachable.
    """
    px = check_prices(close_2d, "close_2d", ndim=(1, 2))
    if px.ndim == 1:
        px = px[:, None]
    if chunks is not None and (
        isinstance(chunks, bool) or not isinstance(chunks, int) or chunks < 1
    ):
        raise BacktestInputError(f"chunks must be a positive integer or None, got {chunks!r}")
    costs: dict[str, Any] = {
        "fast_kind": fast_kind,
        "slow_kind": slow_kind,
        "init_cash": init_cash,
        "fees": fees,
        "slippage": slippage,
        "periods_per_year": periods_per_year,
    }
    # Validate pairs, kinds and costs here, by sweeping one bar of one instrument, so bad input
    # fails fast in the caller rather than after Ray has started, inside a worker.
    sweep_ma_cross(px[:1, :1], pairs, **costs)

    ray = _connect(address)
    n_inst = px.shape[1]
    if chunks is None:
        chunks = int(ray.cluster_resources().get("CPU", 1))
    bounds = np.linspace(0, n_inst, min(chunks, n_inst) + 1).round().astype(int).tolist()
    px_ref = ray.put(px)
    pairs_arr = np.asarray(pairs, dtype=np.int64)
    options: dict[str, Any] = {"num_cpus": 1}
    if numba_cache_dir is not None:
        options["runtime_env"] = {"env_vars": {"NUMBA_CACHE_DIR": numba_cache_dir}}
    task = ray.remote(_sweep_columns).options(**options)
    refs = [task.remote(px_ref, lo, hi, pairs_arr, costs) for lo, hi in pairwise(bounds)]
    parts: list[SweepResult] = ray.get(refs)
    return SweepResult(
        pairs=parts[0].pairs,
        total_return=np.concatenate([p.total_return for p in parts], axis=1),
        sharpe=np.concatenate([p.sharpe for p in parts], axis=1),
        n_trades=np.concatenate([p.n_trades for p in parts], axis=1),
    )


def _sweep_columns(
    px: NDArray[np.float64], lo: int, hi: int, pairs: NDArray[np.int64], kwargs: dict[str, Any]
) -> SweepResult:
    """One Ray task: the sweep over instruments ``lo:hi`` (runs in a worker process)."""
    import numba

    numba.set_num_threads(1)
    return sweep_ma_cross(px[:, lo:hi], pairs, **kwargs)


def _connect(address: str | None) -> Any:
    """Import Ray and initialize it (local, or the cluster at ``address``) unless it already is."""
    import ray

    if address is not None:
        _check_reachable(address)
    if ray.is_initialized():
        return ray
    if address is None:
        ray.init(
            num_cpus=os.cpu_count(),
            include_dashboard=False,
            ignore_reinit_error=True,
            log_to_driver=False,
        )
        return ray
    try:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=False)
    except (Exception, SystemExit) as exc:  # Ray exits the process when the GCS never answers
        raise ConnectionError(f"cannot connect to the Ray cluster at {address!r}: {exc}") from exc
    return ray


def _check_reachable(address: str) -> None:
    """Fail in seconds on an unreachable head node: ``ray.init`` would retry for ~2 minutes and
    then raise ``SystemExit``."""
    if address == "auto":
        return
    target = address.removeprefix("ray://")
    host, sep, port_s = target.rpartition(":")
    if not sep or not host or not port_s.isdigit():
        raise ValueError(
            f"Ray address must be 'host:port' (GCS, usually port 6379), 'ray://host:port' or "
            f"'auto', got {address!r}"
        )
    try:
        with socket.create_connection((host.strip("[]"), int(port_s)), CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ConnectionError(
            f"cannot reach the Ray cluster at {address!r}: {exc}. Check that the head node is up "
            "and the address (host:port of its GCS) is right"
        ) from None
