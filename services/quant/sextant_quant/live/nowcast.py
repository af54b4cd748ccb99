"""Filtered regime probabilities of one instrument, moved forward by each live bar.

The HMM (:mod:`sextant_quant.regimes.hmm`) is fitted once on the instrument's daily closes
before the first live day and never refitted per bar. Each live bar's close is taken as the
provisional close of its UTC day: the forward filter steps from the probabilities of the last
completed day with that close, so intraday bars move the day's probabilities and the answer
for a day only uses prices known by then. When a bar of a later day arrives, the previous
day's last price becomes its close and that day's step is committed.
"""

from __future__ import annotations

from collections import deque
from datetime import date

import numpy as np
import pandas as pd

from sextant_quant.regimes import HMMRegimeModel


class RegimeNowcast:
    """Forward filter of a fitted model over daily closes, with today's latest price."""

    def __init__(self, model: HMMRegimeModel, closes: pd.Series) -> None:
        """``closes``: daily closes (indexed by date, ascending) of the days before the first
        live bar; the fit's sample or later."""
        self._model = model
        returns = closes.pct_change().dropna()
        path = model.filter(returns)
        self._probabilities: np.ndarray = path.probabilities.iloc[-1].to_numpy()
        self._closes: deque[float] = deque(
            closes.to_numpy(dtype=float)[-(model.vol_window + 1) :], maxlen=model.vol_window + 1
        )
        self._day: date = pd.Timestamp(closes.index[-1]).date()
        self._provisional: tuple[date, float] | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        """Regime names, in the order of the probabilities."""
        return self._model.labels

    def update(self, day: date, price: float) -> dict[str, float]:
        """The filtered probabilities with ``price`` as the close of ``day`` (UTC), by label.
        A bar of a day already completed leaves the state as it is."""
        if self._provisional is not None and day > self._provisional[0]:
            committed_day, close = self._provisional
            self._probabilities = self._step(close)
            self._closes.append(close)
            self._day, self._provisional = committed_day, None
        if day <= self._day:
            probabilities = self._probabilities
        else:
            probabilities = self._step(price)
            self._provisional = (day, price)
        return dict(zip(self.labels, probabilities.tolist(), strict=True))

    def _step(self, close: float) -> np.ndarray:
        closes = np.append(np.fromiter(self._closes, dtype=float), close)
        observation = self._model.features_for_last(closes)
        return self._model.filter_step(self._probabilities, observation)
