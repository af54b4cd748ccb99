"""Instrument reference data and the id scheme shared by every service.

Ids: equities/ETFs by ticker (``AAPL``), indices by their common symbol (``SPX``, ``NDX``),
FX pairs as six letters base+quote (``EURUSD``), crypto as ``BASE-QUOTE`` (``BTC-USD``),
options in OCC symbology, futures as root + month code + year (``ESZ6``).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sextant_common.events import AssetClass


class Instrument(BaseModel):
    """What a provider knows about an instrument it serves."""

    model_config = ConfigDict(frozen=True)

    instrument_id: str = Field(min_length=1, max_length=64)
    asset_class: AssetClass
    name: str
    currency: str = "USD"
    calendar: str = Field(
        description="Trading calendar: an exchange-calendars code (XNYS), 'FX' (24/5) or '24/7'."
    )
