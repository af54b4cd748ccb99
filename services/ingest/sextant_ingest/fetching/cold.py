"""The cold layer: bars Sextant already holds, from the datasets service's ``GET /v1/bars``.

Asked before any remote provider. A 404, an empty answer, only ``simulated`` bars, or a range the
lake does not cover (first bar more than ``slack`` after ``start``, last more than ``slack``
before ``end``) is a miss and the fetch goes on to the providers. When the service does not
answer, it is skipped for ``retry_after_s`` so an absent service costs nothing per fetch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from sextant_common.events import AssetClass, Bar
from sextant_common.timeparse import parse_bound
from sextant_ingest.fetching.limiter import Clock, RealClock

log = logging.getLogger(__name__)

SLACK = timedelta(days=4)
"""Gap allowed between a range bound and the lake's first/last bar (weekends, holidays)."""


class DatasetsColdLayer:
    """Reads bars from the datasets service; every failure is a miss, never an error."""

    def __init__(
        self,
        base_url: str,
        client: httpx.AsyncClient,
        *,
        timeout_s: float = 2.0,
        retry_after_s: float = 30.0,
        clock: Clock | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._client = client
        self._timeout = timeout_s
        self._retry_after_s = retry_after_s
        self._clock = clock or RealClock()
        self._down_until = float("-inf")

    @staticmethod
    def query(params: Mapping[str, Any], source: str | None) -> dict[str, str] | None:
        """The ``/v1/bars`` query for bar ``params`` (None when there is no symbol)."""
        symbol = params.get("symbol") or params.get("instrument_id")
        if not isinstance(symbol, str) or not symbol:
            return None
        query = {"symbol": symbol, "interval": str(params.get("interval") or "1d")}
        for name in ("start", "end"):
            if params.get(name) is not None:
                query[name] = _iso(params[name])
        if source:
            query["source"] = source
        return query

    async def bars(self, query: dict[str, str], asset_class: AssetClass) -> list[Bar] | None:
        """The lake's bars for ``query``, or None on a miss."""
        if self._clock.monotonic() < self._down_until:
            return None
        try:
            response = await self._client.get(
                f"{self.base_url}/v1/bars", params=query, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            self._down_until = self._clock.monotonic() + self._retry_after_s
            log.warning(
                "datasets service at %s unreachable (%s); cold layer off for %.0fs",
                self.base_url,
                exc.__class__.__name__,
                self._retry_after_s,
            )
            return None
        if response.status_code != 200:
            if response.status_code != 404:
                log.debug("datasets /v1/bars answered %s; cold miss", response.status_code)
            return None
        body = response.json()
        if body.get("source") == "simulated" or not body.get("bars"):
            return None
        bars = [
            Bar(
                instrument_id=body["symbol"],
                asset_class=asset_class,
                interval=body["interval"],
                **row,
            )
            for row in body["bars"]
        ]
        return bars if _covers(bars, query) else None


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _covers(bars: list[Bar], query: dict[str, str]) -> bool:
    first, last = bars[0].ts_event, bars[-1].ts_event
    if "start" in query and first - _bound(query["start"], "start") > SLACK:
        return False
    if "end" not in query:
        return True
    end = min(_bound(query["end"], "end", end=True), datetime.now(UTC))
    return end - last <= SLACK


def _bound(value: str, field: str, *, end: bool = False) -> datetime:
    return parse_bound(value, field=field, end_of_day=end)
