"""Market regimes from a Gaussian hidden Markov model over [return, realized volatility].

``fit_hmm_regimes`` runs EM (hmmlearn's GaussianHMM) on standardized features from three
deterministic starts (``sextant_quant.regimes.starts``: realized-vol quantiles, return
quantiles, k-means) and then from ``n_init`` seeded hmmlearn restarts. Fits are compared by
log-likelihood with a tolerance of ``LL_TIE_TOL`` nats: a later run replaces the best so far only
when it is higher by more than that, so ties go to the earliest run and a seeded restart wins
only by finding a clearly better optimum. The result therefore does not depend on the seed
unless a seed finds such an optimum (on the shipped S&P 500 none of seeds 0-4 does, for 2, 3 or
4 states: the tests hold this).

Labelling rule (``sextant_quant.regimes.labels``): the states are named by return, "bear" <
"sideways" < "bull" (``STATE_LABELS``), only when the model's mean returns and the realized
mean returns on the fit sample's filtered path (the dates on which each state is the most
probable filtered state) put them in the same strictly increasing order, so the names hold both
as the model's expectation and in the realized record. Otherwise ``label_order.consistent`` is
False, ``label_order.reason`` says why, and the states are named by volatility ("low-vol" <
"mid-vol" < "high-vol") when the model's mean realized vol and the realized vol on the filtered
path agree, else "state-1" .. "state-n". The orders compare point estimates: with 3 states on
two decades of the S&P 500, the mid- and high-vol states realize +2.4% and +2.8% a year, far
closer than their standard errors (about 6 and 15 points a year).

The fitted ``HMMRegimeModel`` gives two kinds of state probabilities, columns in label order:

- ``filter``: the forward recursion only, P(state_t | data up to t). No look-ahead: what it says
  about date t never changes when later data arrives or is revised. This is what a backtest or a
  live screen may use; ``filter_step`` runs it one bar at a time (with ``features_for_last``
  building that bar's features from recent closes) without refitting.
- ``smooth``: forward-backward, P(state_t | all data). Uses the future; research only.

Both run our own log-space recursions from the fitted parameters (hmmlearn is the oracle in the
tests). The parameters and the names are estimated on the whole fit sample; refit on an
expanding window for a fully out-of-sample study.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from hmmlearn.hmm import GaussianHMM
from numpy.lib.stride_tricks import sliding_window_view
from scipy.linalg import solve_triangular

from sextant_quant.factors.series import (
    SeriesLike,
    as_series,
    infer_periods_per_year,
    require_finite,
)
from sextant_quant.regimes.labels import STATE_LABELS, LabelOrder, name_states
from sextant_quant.regimes.starts import EMStart, deterministic_starts

FEATURES = ("return", "realized_vol")
MIN_HMM_OBS = 100
LL_TIE_TOL = 0.1
"""Log-likelihoods (nats) closer than this count as the same optimum."""


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
    tail = series.iloc[vol_window - 1 :]
    vol = rolling_vol(series.to_numpy(dtype=float), vol_window, ppy)
    return pd.DataFrame({FEATURES[0]: tail, FEATURES[1]: vol}, index=tail.index)


def rolling_vol(returns: np.ndarray, window: int, periods_per_year: float) -> np.ndarray:
    """Standard deviation (ddof=1) of each run of ``window`` consecutive ``returns`` times
    sqrt(periods per year): annualized fractions, one per window ending at dates
    ``window - 1 ..``. One implementation for the batch features and the live bar."""
    if len(returns) < window:
        return np.empty(0)
    windows = sliding_window_view(returns, window)
    out: np.ndarray = windows.std(axis=1, ddof=1) * np.sqrt(periods_per_year)
    return out


@dataclass(frozen=True)
class HMMRegimeModel:
    """A fitted, named Gaussian HMM. Parameters live in standardized feature space (features
    minus ``feature_mean``, over ``feature_scale``) with the states in label order (see the
    module docstring for the labelling rule)."""

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
    start: str
    """the EM start that won: a deterministic start's name or "seed <n>\""""
    converged: bool
    n_obs: int
    label_order: LabelOrder
    """why the states carry their names, with per-state model and realized figures"""

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

    def features_for_last(self, closes: np.ndarray) -> np.ndarray:
        """The raw features [return, realized vol] of the last bar of ``closes`` (positive
        prices, oldest first, at least ``vol_window + 1`` of them): its simple return (fraction)
        and the annualized standard deviation of the last ``vol_window`` returns, exactly as
        ``features`` computes them for that date. Feed the result to ``filter_step``."""
        px = np.asarray(closes, dtype=float)
        need = self.vol_window + 1
        if px.ndim != 1 or len(px) < need:
            raise ValueError(
                f"closes must be a 1-D array of at least {need} prices (vol_window "
                f"{self.vol_window} + 1), got shape {px.shape}"
            )
        window = px[-need:]
        if not (np.isfinite(window).all() and (window > 0).all()):
            raise ValueError(f"the last {need} closes must be finite and > 0, got {window}")
        returns = window[1:] / window[:-1] - 1.0
        vol = rolling_vol(returns, self.vol_window, self.periods_per_year)
        return np.array([returns[-1], vol[-1]])

    def filter(self, returns: SeriesLike) -> RegimePath:
        """Filtered probabilities P(state_t | returns up to t), by the forward recursion with
        the fitted parameters. No look-ahead."""
        features = self.features(returns)
        log_b = self._log_emissions(features)
        log_alpha, _ = forward_log(log_b, self.startprob, self.transmat)
        return self._path("filtered", features.index, log_alpha)

    def filter_step(self, prev_probs: np.ndarray | None, observation: np.ndarray) -> np.ndarray:
        """One step of ``filter``: P(state_t | data up to t) in label order, from
        ``prev_probs`` = P(state_t-1 | data up to t-1) (None at the first date: the fitted
        start probabilities) and the raw features of date t, ``observation`` = [return
        (fraction), realized vol (annualized fraction)], e.g. from ``features_for_last``.
        Iterated over a series it equals ``filter`` to rounding (~1e-15)."""
        obs = np.asarray(observation, dtype=float)
        if obs.shape != (len(FEATURES),) or not np.isfinite(obs).all():
            raise ValueError(
                f"observation must be {len(FEATURES)} finite numbers {FEATURES}, got {obs}"
            )
        log_prev = None
        if prev_probs is not None:
            prev = np.asarray(prev_probs, dtype=float)
            if prev.shape != (len(self.labels),) or (prev < 0).any() or prev.sum() <= 0:
                raise ValueError(
                    f"prev_probs must be {len(self.labels)} probabilities in the order "
                    f"{self.labels}, got {prev}"
                )
            with np.errstate(divide="ignore"):
                log_prev = np.log(prev / prev.sum())
        log_b = self._log_emissions_of(obs[None, :])[0]
        log_post, _ = forward_step(log_prev, log_b, self.startprob, self.transmat)
        return _probabilities(log_post[None, :])[0]

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
        return self._log_emissions_of(features.to_numpy())

    def _log_emissions_of(self, raw: np.ndarray) -> np.ndarray:
        z = (raw - self.feature_mean) / self.feature_scale
        return log_gaussian(z, self.means, self.covariances)

    def _path(
        self, kind: Literal["filtered", "smoothed"], index: pd.Index, log_post: np.ndarray
    ) -> RegimePath:
        post = _probabilities(log_post)
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
    n_init: int = 2,
    seed: int = 0,
    n_iter: int = 500,
    tol: float = 1e-4,
    labels: Sequence[str] | None = None,
) -> HMMRegimeModel:
    """Fit a Gaussian HMM with ``n_states`` (2..4) states to [return, realized vol] of one
    return series (fractions per period, at least 100 dates after the vol window).

    EM runs on standardized features from the deterministic starts, then from ``n_init``
    seeded hmmlearn restarts (seeds ``seed .. seed + n_init - 1``); a run replaces the best so
    far only when its log-likelihood is higher by more than ``LL_TIE_TOL``, so the result
    does not depend on the seed unless a seeded restart finds a clearly better optimum. The
    states are then ordered and named by the labelling rule of the module docstring;
    ``labels`` replaces the return names (default ``STATE_LABELS[n_states]``).
    ``periods_per_year`` annualizes the realized vol; None infers it from the dates.
    """
    if not 2 <= n_states <= 4:
        raise ValueError(f"n_states must be 2, 3 or 4, got {n_states}")
    if covariance_type not in ("full", "diag"):
        raise ValueError(f"covariance_type must be 'full' or 'diag', got {covariance_type!r}")
    if n_init < 0:
        raise ValueError(f"n_init must be >= 0, got {n_init}")
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

    runs: list[tuple[str, EMStart | int]] = [(s.name, s) for s in deterministic_starts(z, n_states)]
    runs += [(f"seed {s}", s) for s in range(seed, seed + n_init)]
    best: tuple[float, str, GaussianHMM] | None = None
    for name, start in runs:
        model = _run_em(z, n_states, covariance_type, n_iter, tol, start)
        if not _finite_params(model):
            continue
        score = float(model.score(z))
        if np.isfinite(score) and (best is None or score > best[0] + LL_TIE_TOL):
            best = (score, name, model)
    if best is None:
        raise ValueError(
            f"no EM run out of {len(runs)} produced finite parameters; try fewer states or more "
            "data"
        )
    _, best_start, model = best
    params = canonical_order(model.startprob_, model.transmat_, model.means_, model.covars_)
    log_alpha, _ = forward_log(log_gaussian(z, params[2], params[3]), params[0], params[1])
    raw_means = params[2] * scale + mean
    order, state_names, label_order = name_states(
        model_return=raw_means[:, 0],
        model_vol=raw_means[:, 1],
        filtered_state=log_alpha.argmax(axis=1),
        returns=values[:, 0],
        periods_per_year=float(ppy),
        return_names=names,
    )
    startprob, transmat, means, covs = permute_states(*params, order=order)
    _, loglik = forward_log(log_gaussian(z, means, covs), startprob, transmat)
    return HMMRegimeModel(
        labels=state_names,
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
        start=best_start,
        converged=bool(model.monitor_.converged),
        n_obs=len(features),
        label_order=label_order,
    )


def _run_em(
    z: np.ndarray,
    n_states: int,
    covariance_type: str,
    n_iter: int,
    tol: float,
    start: EMStart | int,
) -> GaussianHMM:
    """EM from a deterministic start, or from hmmlearn's own initialisation with seed
    ``start``."""
    if isinstance(start, int):
        model = GaussianHMM(
            n_components=n_states,
            covariance_type=covariance_type,
            n_iter=n_iter,
            tol=tol,
            random_state=start,
        )
        return model.fit(z)
    model = GaussianHMM(
        n_components=n_states,
        covariance_type=covariance_type,
        n_iter=n_iter,
        tol=tol,
        init_params="",
    )
    model.startprob_ = start.startprob
    model.transmat_ = start.transmat
    model.means_ = start.means
    model.covars_ = (
        start.covariances
        if covariance_type == "full"
        else np.diagonal(start.covariances, axis1=1, axis2=2).copy()
    )
    return model.fit(z)


def canonical_order(
    startprob: np.ndarray, transmat: np.ndarray, means: np.ndarray, covariances: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Permute HMM parameters so that states are in ascending order of their mean in the first
    feature (the return). Any relabeling of the same model maps to the same parameters."""
    order = np.argsort(means[:, 0], kind="stable")
    return permute_states(startprob, transmat, means, covariances, order=order)


def permute_states(
    startprob: np.ndarray,
    transmat: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    *,
    order: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """HMM parameters with state ``order[k]`` moved to position k."""
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
    log_alpha = np.empty(log_emissions.shape)
    loglik = 0.0
    prev: np.ndarray | None = None
    for t, log_b in enumerate(log_emissions):
        prev, norm = forward_step(prev, log_b, startprob, transmat)
        log_alpha[t] = prev
        loglik += norm
    return log_alpha, float(loglik)


def forward_step(
    log_prev: np.ndarray | None,
    log_emission: np.ndarray,
    startprob: np.ndarray,
    transmat: np.ndarray,
) -> tuple[np.ndarray, float]:
    """One step of ``forward_log``: from log P(state_t-1 | obs_1..t-1) (None before the first
    date) and log p(obs_t | state_t), the normalized log P(state_t | obs_1..t) and the log of
    the normalizer, log p(obs_t | obs_1..t-1)."""
    with np.errstate(divide="ignore"):
        if log_prev is None:
            a = np.log(startprob) + log_emission
        else:
            shift = log_prev.max()
            # logsumexp_i(prev_i + log A_ij), shifted by the max so exp() cannot overflow
            a = np.log(np.exp(log_prev - shift) @ transmat) + shift + log_emission
    norm = _logsumexp(a)
    return a - norm, norm


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


def _probabilities(log_post: np.ndarray) -> np.ndarray:
    """Rows of log posteriors (up to a constant per row) as probabilities summing to 1."""
    post = np.exp(log_post - log_post.max(axis=1, keepdims=True))
    out: np.ndarray = post / post.sum(axis=1, keepdims=True)
    return out


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
