"""``GET /v1/screener``: filter and rank every stored instrument on daily-bar metrics, as of a
date (an equity screen in the manner of Bloomberg EQS / OpenBB's screener)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from sextant_common.events import INSTRUMENT_ID_PATTERN
from sextant_common.timeparse import BoundText
from sextant_quant.api.cross_section import (
    day_or_422,
    json_response,
    panel_errors,
    panel_or_http_error,
    require_stored,
)
from sextant_quant.api.deps import MarketDataDep
from sextant_quant.screen.metrics import METRICS
from sextant_quant.screen.query import filter_pattern, parse_filters, parse_sort, sort_pattern
from sextant_quant.screen.screener import run_screen

router = APIRouter(tags=["screener"])

DEFAULT_BENCHMARK = "SPX"
METRIC_NAMES = ", ".join(METRICS)


class ScreenerParams(BaseModel):
    """Query of a screen. Unknown parameters are rejected (422 naming them)."""

    model_config = ConfigDict(extra="forbid")

    filter: list[Annotated[str, Field(pattern=filter_pattern(METRICS))]] = Field(
        default_factory=list,
        max_length=64,
        description="metric<op>number, op one of < <= > >= = !=; repeat the parameter or "
        f"separate with commas to AND them (e.g. vol_60d<0.3,ret_12m>0). Metrics: {METRIC_NAMES}",
    )
    sort: str = Field(
        "symbol",
        pattern=sort_pattern(METRICS),
        description="symbol or a metric; '-' first for descending",
    )
    limit: int = Field(100, ge=1, le=10_000, description="Rows returned after ranking")
    as_of: BoundText | None = Field(
        None, description="Only bars dated on or before this day count; default: today"
    )
    benchmark: str | None = Field(
        None,
        pattern=INSTRUMENT_ID_PATTERN,
        description=f"Betas are measured against it; default {DEFAULT_BENCHMARK} when stored",
    )

    # The schema's patterns say what is accepted; these say what is wrong, in words.
    @field_validator("filter", mode="before")
    @classmethod
    def _readable_filters(cls, value: object) -> object:
        if isinstance(value, list):
            parse_filters([str(v) for v in value], METRICS)
        return value

    @field_validator("sort", mode="before")
    @classmethod
    def _readable_sort(cls, value: object) -> object:
        parse_sort(str(value), METRICS)
        return value


def _row_model() -> type[BaseModel]:
    """``ScreenerRow``: the instrument's identity and one nullable field per metric of
    :data:`METRICS`, described, so the schema cannot drift from the metrics computed."""
    metrics: dict[str, Any] = {
        name: (float | None, Field(description=f"{m.description}; null: too little history"))
        for name, m in METRICS.items()
    }
    return create_model(
        "ScreenerRow",
        __doc__="One instrument's metrics as of the screen's date.",
        __module__=__name__,
        symbol=(str, ...),
        source=(str, Field(description="Where its bars come from; 'simulated' is synthetic")),
        simulated=(bool, Field(description="True for the simulated market's instruments")),
        asset_class=(str, ...),
        last_date=(str, Field(description="Its last bar on or before as_of (YYYY-MM-DD)")),
        obs=(int, Field(description="Its daily bars on or before as_of")),
        **metrics,
    )


if TYPE_CHECKING:
    ScreenerRow = BaseModel
else:
    ScreenerRow = _row_model()


class ScreenerPublic(BaseModel):
    """The ranked rows and what they were screened on."""

    as_of: str = Field(description="The day screened (YYYY-MM-DD)")
    benchmark: str | None = Field(description="Betas are against it; null: no beta")
    universe: int = Field(description="Instruments with a daily bar on or before as_of")
    matched: int = Field(description="Of those, how many passed every filter")
    count: int
    sort: str
    filters: list[str]
    metrics: dict[str, str] = Field(description="Every metric's name and meaning")
    rows: list[ScreenerRow]
    warnings: list[str]


@router.get(
    "/v1/screener",
    response_model=ScreenerPublic,
    responses=panel_errors(
        "The benchmark has no daily bars stored (names the field)",
        "An unknown metric, a bad filter, sort, limit or as_of (names the field)",
    ),
)
async def screener(market: MarketDataDep, params: Annotated[ScreenerParams, Query()]) -> Response:
    """Every instrument with daily bars, its metrics computed from its bars dated on or before
    ``as_of`` only (point in time by bar date; a bar revised later is read as stored now),
    kept when it passes every filter, ranked by ``sort`` (nulls last), first ``limit`` rows.

    Windows count the instrument's own bars (a month is 21, a year 252); returns are daily
    close-to-close price returns; vols are annualized (x sqrt 252); beta uses the dates the
    instrument and the benchmark share. See ``metrics`` in the answer for each definition.
    """
    filters = parse_filters(params.filter, METRICS)  # valid: checked by ScreenerParams
    sort = parse_sort(params.sort, METRICS)
    as_of = day_or_422(params.as_of, "as_of")
    panel = await panel_or_http_error(market)
    warnings = []
    benchmark = params.benchmark
    if benchmark is not None:
        require_stored(panel, [benchmark], "benchmark")
    elif DEFAULT_BENCHMARK in panel.index:
        benchmark = DEFAULT_BENCHMARK
    else:
        warnings.append(f"no {DEFAULT_BENCHMARK} stored: beta_1y is null; pass benchmark=")
    result = await asyncio.to_thread(
        run_screen, panel, as_of, benchmark, filters, sort, params.limit
    )
    return json_response(
        {
            "as_of": str(as_of),
            "benchmark": benchmark,
            "universe": result.universe,
            "matched": result.matched,
            "count": len(result.rows),
            "sort": str(sort),
            "filters": [str(f) for f in filters],
            "metrics": {name: m.description for name, m in METRICS.items()},
            "rows": result.rows,
            "warnings": warnings + result.warnings,
        }
    )
