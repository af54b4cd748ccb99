"""``GET /v1/analytics``: the latest live analytics of one instrument (what ``quant.analytics.v1``
last carried for it), so a client can draw before the next bar arrives over the WebSocket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel

from sextant_common.events import INSTRUMENT_ID_PATTERN, Analytics
from sextant_common.http_errors import error_responses
from sextant_quant.live.analytics import LiveAnalytics

router = APIRouter(tags=["analytics"])


class LatestAnalyticsPublic(BaseModel):
    """The last live analytics event of an instrument, one per bar interval it has live bars in."""

    symbol: str
    analytics: list[Analytics]


@router.get(
    "/v1/analytics",
    responses=error_responses(
        {404: "No live bar of the symbol since the quant service started (names the symbol)"}
    ),
)
def latest_analytics(
    request: Request,
    symbol: Annotated[str, Query(pattern=INSTRUMENT_ID_PATTERN, description="instrument id")],
) -> LatestAnalyticsPublic:
    """EWMA volatility, 1-day VaR, rolling beta and filtered regime probabilities after the
    symbol's last live bar, per interval. Live updates: subscribe to ``analytics:<symbol>`` on
    the gateway's WebSocket."""
    live: LiveAnalytics = request.app.state.live_analytics
    by_interval = live.latest.get(symbol)
    if not by_interval:
        raise HTTPException(
            status_code=404,
            detail=f"no live bar of {symbol} since the quant service started: live analytics "
            "follow md.bars.v1 from its live end (the lake holds the history)",
        )
    return LatestAnalyticsPublic(symbol=symbol, analytics=list(by_interval.values()))
