"""``GET /v1/options/chain``: the stored option chain of an underlying as of a time.

Internal (the gateway does not mount it): the quant service fronts it at
``/api/v1/quant/options/chain`` with implied vols and Greeks.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import orjson
from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from sextant_common.events import INSTRUMENT_ID_PATTERN
from sextant_common.http_errors import bound_or_422, error_responses, field_error
from sextant_common.timeparse import BoundText, clamp_as_of
from sextant_datasets.options.store import OptionChainReader


class ChainParams(BaseModel):
    """``GET /v1/options/chain`` parameters."""

    model_config = ConfigDict(extra="forbid")

    underlying: str = Field(pattern=INSTRUMENT_ID_PATTERN, description="e.g. AAPL")
    expiry: date | None = Field(None, description="One expiry (YYYY-MM-DD); default every one")
    as_of: BoundText | None = Field(
        None, description="The latest snapshot taken and known by then; default now"
    )
    source: str | None = Field(None, min_length=1, max_length=32, description="e.g. polygon")


def chain_router(lake_dir: Path) -> APIRouter:
    """The route over the snapshots stored under ``lake_dir``."""
    reader = OptionChainReader(lake_dir)
    router = APIRouter(tags=["option chains"])

    @router.get(
        "/v1/options/chain",
        responses=error_responses(
            {
                404: "No chain of the underlying stored by as_of (detail names it)",
                422: "A parameter is invalid, or the expiry is not listed (detail lists them)",
            }
        ),
    )
    def get_chain(params: Annotated[ChainParams, Query()]) -> Response:
        """The latest snapshot of ``underlying`` at or before ``as_of`` (of ``source``; without
        it a real source's wins over a simulated one): its time, source, expiries and quotes (of
        ``expiry`` when given), by expiry, strike, right. Prices per unit of the underlying;
        ``implied_vol`` is the source's, when it gave one."""
        now = datetime.now(UTC)
        as_of, warning = clamp_as_of(
            bound_or_422(params.as_of, "as_of", now, end_of_day=True), now, requested=params.as_of
        )
        chain = reader.chain(params.underlying, as_of, expiry=params.expiry, source=params.source)
        if chain is None:
            source = f" from {params.source}" if params.source else ""
            raise HTTPException(
                status_code=404,
                detail=f"underlying: no option chain of {params.underlying}{source} "
                f"stored by {as_of.isoformat()}",
            )
        if params.expiry is not None and params.expiry not in chain.expiries:
            listed = ", ".join(e.isoformat() for e in chain.expiries)
            raise field_error(
                "expiry",
                f"{params.underlying} has no expiry {params.expiry} in its snapshot of "
                f"{chain.snapshot.isoformat()}; listed: {listed}",
            )
        body = {
            "underlying": chain.underlying,
            "as_of": as_of,
            "snapshot": chain.snapshot,
            "source": chain.source,
            "expiries": chain.expiries,
            "expiry": params.expiry,
            "count": len(chain.quotes),
            "quotes": chain.quotes,
            "warnings": [warning] if warning else [],
        }
        return Response(orjson.dumps(body, option=orjson.OPT_UTC_Z), media_type="application/json")

    return router
