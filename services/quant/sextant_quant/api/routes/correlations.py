"""``GET /v1/correlations``: the correlation matrix of several instruments' daily returns over a
window, with a clustered order for a heat map."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from sextant_common.events import INSTRUMENT_ID_PATTERN
from sextant_common.timeparse import BoundText
from sextant_quant.api.cross_section import (
    day_or_422,
    json_response,
    panel_errors,
    panel_or_http_error,
    require_stored,
    screen_errors_as_422,
)
from sextant_quant.api.deps import MarketDataDep
from sextant_quant.screen.correlation import CorrelationMethod, correlate
from sextant_quant.screen.screener import SIMULATED

router = APIRouter(tags=["correlations"])

MAX_SYMBOLS = 500
_SYMBOL = re.compile(INSTRUMENT_ID_PATTERN)
_ID = INSTRUMENT_ID_PATTERN.removeprefix("^").removesuffix("$")
SYMBOLS_PATTERN = rf"^\s*{_ID}\s*(,\s*{_ID}\s*)+$"


def split_symbols(text: str) -> list[str]:
    """The comma-separated ids of ``text``: 2 to :data:`MAX_SYMBOLS`, valid and distinct.

    Raises ValueError saying which are not ids, which are repeated, or how many were given.
    """
    symbols = [s.strip() for s in text.split(",")]
    bad = [s for s in symbols if not _SYMBOL.match(s)]
    repeated = sorted(s for s, n in Counter(symbols).items() if n > 1)
    if bad:
        raise ValueError(f"not instrument ids: {', '.join(map(repr, bad[:10]))}")
    if repeated:
        raise ValueError(f"repeated: {', '.join(repeated)}")
    if not 2 <= len(symbols) <= MAX_SYMBOLS:
        raise ValueError(f"{len(symbols)} symbols given; ask for 2 to {MAX_SYMBOLS}")
    return symbols


class CorrelationParams(BaseModel):
    """Query of a correlation matrix. Unknown parameters are rejected (422 naming them)."""

    model_config = ConfigDict(extra="forbid")

    symbols: str = Field(
        pattern=SYMBOLS_PATTERN,
        max_length=40_000,
        description=f"Comma-separated instrument ids, 2 to {MAX_SYMBOLS}, each once",
    )
    window: int = Field(252, ge=2, le=20_000, description="Daily returns correlated")
    end: BoundText | None = Field(None, description="Last day of the window; default: today")
    method: CorrelationMethod = "pearson"

    # The schema's pattern says what is accepted; this says what is wrong, in words.
    @field_validator("symbols", mode="before")
    @classmethod
    def _readable_symbols(cls, value: object) -> object:
        if isinstance(value, str):
            split_symbols(value)
        return value


class CorrelationPublic(BaseModel):
    """Correlations of daily simple returns on the dates every symbol has a bar."""

    symbols: list[str] = Field(description="As asked; rows and columns of matrix")
    sources: list[str] = Field(description="Each symbol's source; 'simulated' is synthetic")
    simulated: list[str] = Field(description="The symbols whose bars are simulated")
    order: list[str] = Field(description="The symbols in clustered order (similar adjacent)")
    order_index: list[int] = Field(description="order as indices into symbols")
    matrix: list[list[float]]
    method: str
    window: int
    start: str = Field(description="Date of the close the first return starts from")
    end: str = Field(description="Date of the last return")


@router.get(
    "/v1/correlations",
    response_model=CorrelationPublic,
    responses=panel_errors(
        "A symbol has no daily bars stored (names the field)",
        "Bad symbols, window or end, or too few common days (names the field)",
    ),
)
async def correlations(
    market: MarketDataDep, params: Annotated[CorrelationParams, Query()]
) -> Response:
    """Pearson or Spearman correlations of the last ``window`` daily returns of ``symbols`` up
    to ``end``, on the dates all of them have a bar (bars as stored now), and the order of an
    average-linkage hierarchical clustering on ``1 - correlation`` (optimal leaf ordering up to
    200 symbols)."""
    symbols = split_symbols(params.symbols)  # valid: checked by CorrelationParams
    end = day_or_422(params.end, "end")
    panel = await panel_or_http_error(market)
    require_stored(panel, symbols, "symbols")
    with screen_errors_as_422():
        result = await asyncio.to_thread(
            correlate, panel, symbols, end, params.window, params.method
        )
    sources = [panel.sources[panel.index[s]] for s in symbols]
    return json_response(
        {
            "symbols": symbols,
            "sources": sources,
            "simulated": [s for s, src in zip(symbols, sources, strict=True) if src == SIMULATED],
            "order": [symbols[i] for i in result.order],
            "order_index": result.order,
            "matrix": result.matrix,
            "method": params.method,
            "window": params.window,
            "start": result.window.dates[0],
            "end": result.window.dates[-1],
        }
    )
