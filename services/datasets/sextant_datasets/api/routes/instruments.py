"""``GET /v1/instruments``: every instrument the lake holds, per source and interval."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import orjson
from fastapi import APIRouter, Response

from sextant_datasets.api.deps import CatalogDep

router = APIRouter(tags=["instruments"])


def _iso(moment: Any) -> str:
    return str(moment.isoformat()).replace("+00:00", "Z")


@router.get("/v1/instruments")
def list_instruments(catalog: CatalogDep) -> Response:
    """One entry per (instrument, source): asset class, intervals stored, first/last bar, rows."""
    grouped: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for entry in catalog.entries():
        grouped[(entry.instrument_id, entry.source)].append(entry)
    instruments = [
        {
            "instrument_id": instrument_id,
            "asset_class": entries[0].asset_class,
            "source": source,
            "intervals": sorted({e.interval for e in entries}),
            "first": _iso(min(e.first for e in entries)),
            "last": _iso(max(e.last for e in entries)),
            "rows": sum(e.rows for e in entries),
        }
        for (instrument_id, source), entries in grouped.items()
    ]
    return Response(orjson.dumps({"instruments": instruments}), media_type="application/json")
