"""Correlation matrix of daily returns over a window, and its hierarchical-clustering order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
from scipy.spatial.distance import squareform
from scipy.stats import rankdata
from threadpoolctl import ThreadpoolController

from sextant_quant.screen.panel import FloatMatrix, IntArray, Panel
from sextant_quant.screen.query import ScreenError

CorrelationMethod = Literal["pearson", "spearman"]
_BLAS = ThreadpoolController()
OPTIMAL_ORDERING_MAX = 200
"""Up to this many symbols the leaf order is optimal (scipy's ``optimal_leaf_ordering``:
adjacent leaves most similar; ~O(n^3), 40 ms at 200); above it, plain dendrogram order."""


@dataclass(frozen=True)
class CommonReturns:
    """Daily simple returns of several instruments between consecutive dates all have a bar."""

    returns: FloatMatrix
    """``(window, n)``, oldest first, columns in the asked symbol order."""
    dates: Sequence[str]
    """The ``window + 1`` dates (YYYY-MM-DD) of the closes the returns span."""


def common_returns(
    panel: Panel, symbols: Sequence[str], end: np.datetime64, window: int
) -> CommonReturns:
    """The last ``window`` returns of ``symbols`` (panel symbols) on dates on or before
    ``end`` on which every one of them has a bar.

    Raises :class:`ScreenError` (field ``window``) when fewer common dates exist.
    """
    columns = [panel.index[s] for s in symbols]
    row = panel.row_on_or_before(end)
    closes = panel.close[: row + 1, columns]
    common = np.flatnonzero(~np.isnan(closes).any(axis=1))
    if len(common) < window + 1:
        raise ScreenError(
            "window",
            f"only {max(len(common) - 1, 0)} daily returns on dates all {len(symbols)} symbols "
            f"have a bar, up to {end}; ask a window of at most that, an earlier start of "
            "history or other symbols",
        )
    kept = common[-(window + 1) :]
    window_closes = closes[kept]
    return CommonReturns(
        returns=window_closes[1:] / window_closes[:-1] - 1.0,
        dates=panel.dates[kept].astype(str).tolist(),
    )


def correlation_matrix(
    returns: FloatMatrix, method: CorrelationMethod, symbols: Sequence[str]
) -> FloatMatrix:
    """Pearson or Spearman (Pearson of ranks, ties averaged) correlation of the columns of
    ``returns`` (named ``symbols``).

    Raises :class:`ScreenError` (field ``symbols``) naming the symbols whose returns do not
    vary over the window (their correlation is undefined).
    """
    flat = [s for s, spread in zip(symbols, np.ptp(returns, axis=0), strict=True) if spread == 0]
    if flat:
        raise ScreenError(
            "symbols",
            f"returns of {', '.join(flat)} are constant over the window: correlation is "
            "undefined; drop them or use another window",
        )
    data = rankdata(returns, axis=0) if method == "spearman" else returns
    # One BLAS thread: the product is small (100 x 2,520: ~25 Mflop), and waking BLAS threads
    # on a busy host cost more than they saved (measured through the API on 2 shared cores:
    # 150 ms with OpenBLAS's default threads, 45 ms with one).
    with _BLAS.limit(limits=1, user_api="blas"):
        return np.atleast_2d(np.corrcoef(data, rowvar=False))


def clustered_order(corr: FloatMatrix) -> IntArray:
    """Leaf order of average-linkage clustering on the distance ``1 - corr`` (similar
    instruments next to each other), optimal when at most :data:`OPTIMAL_ORDERING_MAX`."""
    distance = 1.0 - corr
    np.fill_diagonal(distance, 0.0)
    condensed = squareform(np.clip((distance + distance.T) / 2.0, 0.0, None), checks=False)
    tree = linkage(condensed, method="average")
    if len(corr) <= OPTIMAL_ORDERING_MAX:
        tree = optimal_leaf_ordering(tree, condensed)
    order: IntArray = leaves_list(tree).astype(np.int64)
    return order


@dataclass(frozen=True)
class Correlations:
    """A correlation matrix in the asked symbol order and its clustered order."""

    matrix: FloatMatrix
    order: IntArray
    """Indices into the asked symbols: similar ones adjacent (see :func:`clustered_order`)."""
    window: CommonReturns


def correlate(
    panel: Panel,
    symbols: Sequence[str],
    end: np.datetime64,
    window: int,
    method: CorrelationMethod,
) -> Correlations:
    """Correlations of the last ``window`` common daily returns of ``symbols`` up to ``end``
    (see :func:`common_returns`, :func:`correlation_matrix`), clustered."""
    returns = common_returns(panel, symbols, end, window)
    matrix = correlation_matrix(returns.returns, method, symbols)
    return Correlations(matrix, clustered_order(matrix), returns)
