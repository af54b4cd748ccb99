"""Deterministic starting points for EM on the regime HMM's standardized features.

EM finds a local optimum that depends on where it starts. hmmlearn's own initialisation draws
the transition matrix and k-means seeds from ``random_state``, which on the S&P 500 sends some
seeds to a worse optimum. These starts depend on the data only, so every fit from them is
reproducible whatever the seed:

- "realized-vol quantiles": the dates split into ``n_states`` equal groups by realized vol;
- "return quantiles": the same by return;
- "k-means": Lloyd's k-means on both features, started from the realized-vol groups' means.

No single start wins everywhere (measured on the shipped S&P 500 and NASDAQ and sub-periods of
them, 2-4 states): each of the three is the only one to reach the best optimum somewhere, and
together they matched or beat 15 random hmmlearn restarts in every case tried.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass

import numpy as np
from scipy.cluster.vq import ClusterError, kmeans2

STAY_PROBABILITY = 0.95
"""Initial P(same state tomorrow): daily regimes persist, so EM starts from a sticky chain."""

MIN_COVAR = 1e-3
"""Added to each start's covariance diagonal (hmmlearn's default ``min_covar``)."""

_KMEANS_ITERATIONS = 100


@dataclass(frozen=True)
class EMStart:
    """Initial parameters of one EM run, in standardized feature space."""

    name: str
    startprob: np.ndarray
    """n_states, uniform"""
    transmat: np.ndarray
    """n_states x n_states, ``STAY_PROBABILITY`` on the diagonal"""
    means: np.ndarray
    """n_states x n_features: the mean of each group of dates"""
    covariances: np.ndarray
    """n_states x n_features x n_features: each group's covariance plus ``MIN_COVAR``"""


def deterministic_starts(z: np.ndarray, n_states: int) -> list[EMStart]:
    """The starts above for standardized features ``z`` (dates x [return, realized vol]), in a
    fixed order. A start whose grouping leaves a state with fewer dates than features + 1 (no
    covariance to start from) is left out."""
    by_vol = _quantile_groups(z[:, 1], n_states)
    groupings = {
        "realized-vol quantiles": by_vol,
        "return quantiles": _quantile_groups(z[:, 0], n_states),
    }
    with suppress(ClusterError):  # k-means emptied a cluster: the quantile starts remain
        _, groupings["k-means"] = kmeans2(
            z,
            _group_means(z, by_vol, n_states),
            iter=_KMEANS_ITERATIONS,
            minit="matrix",
            missing="raise",
        )
    return [
        _start(name, z, groups, n_states)
        for name, groups in groupings.items()
        if np.bincount(groups, minlength=n_states).min() > z.shape[1]
    ]


def _quantile_groups(values: np.ndarray, n_states: int) -> np.ndarray:
    """Group index per date: 0 for the lowest 1/n_states of ``values`` ... n_states - 1."""
    groups = np.empty(len(values), dtype=int)
    for k, members in enumerate(np.array_split(np.argsort(values, kind="stable"), n_states)):
        groups[members] = k
    return groups


def _group_means(z: np.ndarray, groups: np.ndarray, n_states: int) -> np.ndarray:
    return np.array([z[groups == k].mean(axis=0) for k in range(n_states)])


def _start(name: str, z: np.ndarray, groups: np.ndarray, n_states: int) -> EMStart:
    ridge = MIN_COVAR * np.eye(z.shape[1])
    transmat = np.full((n_states, n_states), (1.0 - STAY_PROBABILITY) / (n_states - 1))
    np.fill_diagonal(transmat, STAY_PROBABILITY)
    return EMStart(
        name=name,
        startprob=np.full(n_states, 1.0 / n_states),
        transmat=transmat,
        means=_group_means(z, groups, n_states),
        covariances=np.array([np.cov(z[groups == k].T) + ridge for k in range(n_states)]),
    )
