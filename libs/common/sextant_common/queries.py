"""Query-string models shared by a service's API and the gateway route in front of it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sextant_common.events import INSTRUMENT_ID_PATTERN, Interval
from sextant_common.timeparse import BoundText


class BarsParams(BaseModel):
    """``GET .../bars`` parameters. Unknown parameters are rejected (422 naming them)."""

    model_config = ConfigDict(extra="forbid")

    symbol: str = Field(pattern=INSTRUMENT_ID_PATTERN, description="Instrument id, e.g. SPX")
    interval: Interval = Interval.D1
    start: BoundText | None = Field(None, description="Inclusive; date or ISO datetime (UTC)")
    end: BoundText | None = Field(None, description="Inclusive; a bare date covers the whole day")
    as_of: BoundText | None = Field(None, description="Knowledge time; default now")
    source: str | None = Field(None, max_length=32, description="Default: real before simulated")
