"""Result records shared by both engines."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ._validate import FloatArray


@dataclass(frozen=True)
class Trades:
    """Round-trip trades as parallel arrays (one entry per trade, in entry order).

    Prices include slippage; ``pnl`` is in cash after both fees; ``returns`` is
    ``pnl / (size * entry_price)`` (vectorbt's trade return); ``direction`` is +1 long / -1 short;
    ``is_open`` marks a trade still open on the last bar (exit = last close, no exit fee).
    """

    entry_index: NDArray[np.int64]
    exit_index: NDArray[np.int64]
    entry_price: FloatArray
    exit_price: FloatArray
    size: FloatArray
    entry_fees: FloatArray
    exit_fees: FloatArray
    pnl: FloatArray
    returns: FloatArray
    direction: NDArray[np.int8]
    is_open: NDArray[np.bool_]

    def __len__(self) -> int:
        return int(self.entry_index.shape[0])

    def to_frame(self) -> object:
        """The trades as a pandas DataFrame (one row per trade)."""
        import pandas as pd

        return pd.DataFrame({name: getattr(self, name) for name in self.__dataclass_fields__})
