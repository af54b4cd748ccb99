"""One screener run over the panel: metrics as of a date, filters, ranking, rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sextant_quant.screen.metrics import METRICS, TRADING_DAYS, metrics_at
from sextant_quant.screen.panel import Panel
from sextant_quant.screen.query import Filter, SortKey, rank

SIMULATED = "simulated"


@dataclass(frozen=True)
class ScreenResult:
    """The ranked rows (at most the asked limit) and the counts behind them."""

    rows: list[dict[str, Any]]
    """Per instrument: symbol, source, simulated, asset_class, last_date (its last bar on or
    before as_of), obs (its bars so far) and every metric of :data:`METRICS` (NaN: too little
    history)."""
    universe: int
    """Instruments with at least one daily bar on or before as_of."""
    matched: int
    """Of those, how many passed every filter."""
    warnings: list[str]


def run_screen(
    panel: Panel,
    as_of: np.datetime64,
    benchmark: str | None,
    filters: Sequence[Filter],
    sort: SortKey,
    limit: int,
) -> ScreenResult:
    """Screen every instrument of ``panel`` using only bars dated on or before ``as_of`` (a
    ``datetime64[D]``), betas against ``benchmark`` (a panel symbol, or None for no beta).

    An as_of before every stored bar screens an empty universe (a warning says so).
    """
    row = panel.row_on_or_before(as_of)
    if row < 0:
        first = str(panel.dates[0]) if len(panel.dates) else "none is stored"
        return ScreenResult([], 0, 0, [f"no daily bar on or before {as_of}: the first is {first}"])
    values = metrics_at(panel, row, panel.index[benchmark] if benchmark else None)
    chosen, matched = rank(values, panel.symbols, values["obs"] > 0, filters, sort)
    chosen = chosen[:limit]
    last = panel.packed.last_index(row)[chosen]
    last_dates = panel.dates[panel.packed.rows[last, chosen]].astype(str).tolist()
    columns = {name: values[name][chosen].tolist() for name in ("obs", *METRICS)}
    columns["obs"] = [int(n) for n in columns["obs"]]
    rows = []
    for i, column in enumerate(chosen.tolist()):
        source = panel.sources[column]
        rows.append(
            {
                "symbol": panel.symbols[column],
                "source": source,
                "simulated": source == SIMULATED,
                "asset_class": panel.asset_classes[column],
                "last_date": last_dates[i],
                **{name: values_[i] for name, values_ in columns.items()},
            }
        )
    no_beta = int(((values["obs"] > TRADING_DAYS) & np.isnan(values["beta_1y"])).sum())
    warnings = (
        [
            f"beta_1y is null for {no_beta} instruments with a year of bars: fewer than "
            f"{TRADING_DAYS} daily returns on dates they share with {benchmark}"
        ]
        if benchmark and no_beta
        else []
    )
    return ScreenResult(rows, int((values["obs"] > 0).sum()), matched, warnings)
