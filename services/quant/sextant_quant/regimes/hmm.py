"""Market regimes from a Gaussian hidden Markov model over [return, realized volatility].

``fit_hmm_regimes`` fits hmmlearn's GaussianHMM from several seeds, keeps the best
log-likelihood and relabels the states by mean return, ascending, so that the labels ("bear" <
"sideways" < "bull") do not depend on the seed or on how EM happened to number the states.

The fitted ``HMMRegimeModel`` gives two kinds of state probabilities:

- ``filter``: the forward recursion only, P(state_t | data up to t). No look-ahead: what it says
  about date t never changes when later data arrives or is revised. This is what a backtest or a
  live screen may use.
- ``smooth``: forward-backward, P(state_t | all data). Uses the future; research only.

Both run our own log-space recursions from the fitted parameters (hmmlearn is the oracle in the
tests). The parameters themselves are estimated on the whole fit sample; refit on an expanding
window for a fully out-of-sample study.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from hmmlearn.hmm import GaussianHMM
from scipy.linalg import solve_triangular

from sextant_quant.factors.series import (
    SeriesLike,
    as_series,
    infer_periods_per_year,
    require_finite,
)

STATE_LABELS: dict[int, tuple[str, ...]] = {
    2: ("bear", "bull"),
    3: ("bear", "sideways", "bull"),
    4: ("crash", "bear", "sideways", "bull"),
}
"""Default names of the states, in ascending order of mean return."""

FEATURES = ("return", "realized_vol")
MIN_HMM_OBS = 100


@dataclass(frozen=True)
class RegimePath:
    """State probabilities and the most probable state per date.

    ``kind`` is "filtered" (uses data up to each date only) or "smoothed" (uses all data: for
    research, never for decisions at the time)."""

    kind: Literal["filtered", "smoothed"]
    probabilities: pd.DataFrame
    """dates x labels, rows sum to 1"""
    states: pd.Series
    """the label with the highest probability per date, categorical in label order"""


def regime_features(
    returns: SeriesLike, vol_window: int = 21, periods_per_year: float | None = None
) -> pd.DataFrame:
    """The HMM's inputs: the return (fraction per period) and the realized volatility, the
    rolling standard deviation of the last ``vol_window`` returns times sqrt(periods per year)
    (annualized fraction). Both use data up to each date only; the first ``vol_window - 1``
    dates, which have no full window, are dropped.
    """
    series = as_series(returns)
    if vol_window < 2:
        raise ValueError(f"vol_window must be >= 2, got {vol_window}")
    ppy = periods_per_year if periods_per_year is not None else infer_periods_per_year(series.index)
    vol = series.rolling(vol_window).std(ddof=1) * np.sqrt(ppy)
    frame = pd.DataFrame({FEATURES[0]: series, FEATURES[1]: vol}).iloc[vol_window - 1 :]
    return frame


@dataclass(frozen=True)
class HMMRegimeModel:
    """A fitted, canonically labeled Gaussian HMM. Parameters live in standardized feature
    space (features minus ``feature_mean``, over ``feature_scale``) and states are ordered by
    mean return, ascending."""

    labels: tuple[str, ...]
    startprob: np.ndarray
    transmat: np.ndarray
    means: np.ndarray
    """n_states x 2, standardized features"""
    covariances: np.ndarray
    """n_states x 2 x 2, standardized features (diagonal when fitted with "diag")"""
    feature_mean: np.ndarray
    feature_scale: np.ndarray
    vol_window: int
    periods_per_year: float
    covariance_type: str
    log_likelihood: float
    """of the fit sample's standardized features, summed over dates"""
    seed: int
    """the seed whose EM run won"""
    converged: bool
    n_obs: int

    @property
    def state_means(self) -> pd.DataFrame:
        """Mean return (per period) and realized vol (annualized) of each state, raw units."""
        raw = self.means * self.feature_scale + self.feature_mean
        return pd.DataFrame(raw, index=pd.Index(self.labels, name="state"), columns=FEATURES)

    @property
    def transition_matrix(self) -> pd.DataFrame:
        """P(state at t+1 = column | state at t = row)."""
        idx = pd.Index(self.labels, name="from")
        return pd.DataFrame(self.transmat, index=idx, columns=pd.Index(self.labels, name="to"))

    def features(self, returns: SeriesLike) -> pd.DataFrame:
        """``regime_features`` with this model's window and annualization."""
        return regime_features(returns, self.vol_window, self.periods_per_year)

    def filter(self, returns: SeriesLike) -> RegimePath:
        """Filtered probabilities P(state_t | returns up to t), by the forward recursion with
        the fitted parameters. No look-ahead."""
        features = self.features(returns)
        log_b = self._log_emissions(features)
        log_alpha, _ = forward_log(log_b, self.startprob, self.transmat)
        return self._path("filtered", features.index, log_alpha)

    def smooth(self, returns: SeriesLike) -> RegimePath:
        """Smoothed probabilities P(state_t | all returns), by forward-backward. Uses future
        data: research only."""
        features = self.features(returns)
        log_b = self._log_emissions(features)
        log_alpha, _ = forward_log(log_b, self.startprob, self.transmat)
        log_beta = backward_log(log_b, self.transmat)
        return self._path("smoothed", features.index, log_alpha + log_beta)

    def score(self, returns: SeriesLike) -> float:
        """Log-likelihood of the standardized features of ``returns`` under the model."""
        _, loglik = forward_log(
            self._log_emissions(self.features(returns)), self.startprob, self.transmat
        )
        return loglik

    def _log_emissions(self, features: pd.DataFrame) -> np.ndarray:
        require_finite(features, "regime features")
        z = (features.to_numpy() - self.feature_mean) / self.feature_scale
        return log_gaussian(z, self.means, self.covariances)

    def _path(
        self, kind: Literal["filtered", "smoothed"], index: pd.Index, log_post: np.ndarray
    ) -> RegimePath:
        log_post = log_post - log_post.max(axis=1, keepdims=True)
        post = np.exp(log_post)
        post /= post.sum(axis=1, keepdims=True)
        probabilities = pd.DataFrame(post, index=index, columns=pd.Index(self.labels, name="state"))
        states = pd.Series(
            pd.Categorical.from_codes(post.argmax(axis=1), categories=list(self.labels)),
            index=index,
            name=f"{kind}_state",
        )
        return RegimePath(kind=kind, probabilities=probabilities, states=states)


def fit_hmm_regimes(
    returns: SeriesLike,
    n_states: int = 3,
    *,
    vol_window: int = 21,
    periods_per_year: float | None = None,
    covariance_type: Literal["full", "diag"] = "full",
    n_init: int = 5,
    seed: int = 0,
    n_iter: int = 500,
    tol: float = 1e-4,
    labels: Sequence[str] | None = None,
) -> HMMRegimeModel:
    """Fit a Gaussian HMM with ``n_states`` (2..4) states to [return, realized vol] of one
    return series (fractions per period, at least 100 dates after the vol window).

    EM runs from seeds ``seed .. seed + n_init - 1`` on standardized features; the highest
    log-likelihood wins (the earliest seed on ties), so the result is deterministic. States are
    then sorted by mean return and named ``labels`` (default ``STATE_LABELS[n_states]``).
    ``periods_per_year`` annualizes the realized vol; None infers it from the dates.
    """
    if not 2 <= n_states <= 4:
        raise ValueError(f"n_states must be 2, 3 or 4, got {n_states}")
    if covariance_type not in ("full", "diag"):
        raise ValueError(f"covariance_type must be 'full' or 'diag', got {covariance_type!r}")
    if n_init < 1:
        raise ValueError(f"n_init must be >= 1, got {n_init}")
    names = tuple(labels) if labels is not None else STATE_LABELS[n_states]
    if len(names) != n_states or len(set(names)) != n_states:
        raise ValueError(f"labels must be {n_states} distinct names, got {names}")
    series = as_series(returns)
    ppy = periods_per_year if periods_per_year is not None else infer_periods_per_year(series.index)
    features = regime_features(series, vol_window, ppy)
    if len(features) < MIN_HMM_OBS:
        raise ValueError(
            f"too few observations for an HMM: {len(features)} after the {vol_window}-period "
            f"vol window, need at least {MIN_HMM_OBS}"
        )
    values = features.to_numpy()
    mean, scale = values.mean(axis=0), values.std(axis=0)
    if (scale == 0).any():
        raise ValueError("returns are constant: the features have no variance to fit states to")
    z = (values - mean) / scale

    best: tuple[float, int, GaussianHMM] | None = None
    for s in range(seed, seed + n_init):
        model = GaussianHMM(
            n_components=n_states,
            covariance_type=covariance_type,
            n_iter=n_iter,
            tol=tol,
            random_state=s,
        )
        model.fit(z)
        if not _finite_params(model):
            continue
        score = float(model.score(z))
        if np.isfinite(score) and (best is None or score > best[0]):
            best = (score, s, model)
    if best is None:
        raise ValueError(
            f"no EM run out of {n_init} produced finite parameters; try fewer states or more data"
        )
    _, best_seed, model = best
    startprob, transmat, means, covs = canonical_order(
        model.startprob_, model.transmat_, model.means_, model.covars_
    )
    _, loglik = forward_log(log_gaussian(z, means, covs), startprob, transmat)
    return HMMRegimeModel(
        labels=names,
        startprob=startprob,
        transmat=transmat,
        means=means,
        covariances=covs,
        feature_mean=mean,
        feature_scale=scale,
        vol_window=vol_window,
        periods_per_year=float(ppy),
        covariance_type=covariance_type,
        log_likelihood=loglik,
        seed=best_seed,
        converged=bool(model.monitor_.converged),
        n_obs=len(features),
    )


def canonical_order(
    startprob: np.ndarray, transmat: np.ndarray, means: np.ndarray, covariances: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Permute HMM parameters so that states are in ascending order of their mean in the first
    feature (the return). Any relabeling of the same model maps to the same parameters."""
    order = np.argsort(means[:, 0], kind="stable")
    return (
        np.asarray(startprob)[order],
        np.asarray(transmat)[np.ix_(order, order)],
        np.asarray(means)[order],
        np.asarray(covariances)[order],
    )


def log_gaussian(z: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """log N(z_t; mean_k, cov_k) for every date t (rows of ``z``) and state k: T x K."""
    n_obs, dim = z.shape
    out = np.empty((n_obs, len(means)))
    for k, (mu, cov) in enumerate(zip(means, covariances, strict=True)):
        chol = np.linalg.cholesky(cov)
        white = solve_triangular(chol, (z - mu).T, lower=True)
        log_det = 2.0 * np.log(np.diag(chol)).sum()
        out[:, k] = -0.5 * (dim * np.log(2.0 * np.pi) + log_det + (white**2).sum(axis=0))
    return out


def forward_log(
    log_emissions: np.ndarray, startprob: np.ndarray, transmat: np.ndarray
) -> tuple[np.ndarray, float]:
    """The forward recursion in log space. Returns log P(state_t | obs_1..t) (T x K, each row
    normalized) and the log-likelihood log P(obs_1..T). Row t depends on rows <= t of
    ``log_emissions`` only."""
    n_obs, n_states = log_emissions.shape
    log_alpha = np.empty((n_obs, n_states))
    with np.errstate(divide="ignore"):
        a = np.log(startprob) + log_emissions[0]
        loglik = 0.0
        for t in range(n_obs):
            if t > 0:
                prev = log_alpha[t - 1]
                shift = prev.max()
                # logsumexp_i(prev_i + log A_ij), shifted by the max so exp() cannot overflow
                a = np.log(np.exp(prev - shift) @ transmat) + shift + log_emissions[t]
            norm = _logsumexp(a)
            log_alpha[t] = a - norm
            loglik += norm
    return log_alpha, float(loglik)


def backward_log(log_emissions: np.ndarray, transmat: np.ndarray) -> np.ndarray:
    """The backward recursion in log space: log P(obs_t+1..T | state_t) up to a per-row
    constant (rows are shifted to a max of 0, which leaves the smoothed posterior unchanged)."""
    n_obs, n_states = log_emissions.shape
    log_beta = np.zeros((n_obs, n_states))
    with np.errstate(divide="ignore"):
        for t in range(n_obs - 2, -1, -1):
            v = log_emissions[t + 1] + log_beta[t + 1]
            shift = v.max()
            b = np.log(transmat @ np.exp(v - shift)) + shift
            log_beta[t] = b - b.max()
    return log_beta


def _logsumexp(a: np.ndarray) -> float:
    shift = a.max()
    if not np.isfinite(shift):
        raise ValueError(
            "every state has zero probability: the data are impossible under the model"
        )
    return float(shift + np.log(np.exp(a - shift).sum()))


def _finite_params(model: GaussianHMM) -> bool:
    arrays = (model.startprob_, model.transmat_, model.means_, model.covars_)
    return all(np.isfinite(a).all() for a in arrays) and bool(
        np.allclose(model.transmat_.sum(axis=1), 1.0)
    )
