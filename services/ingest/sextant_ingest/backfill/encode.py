"""Wire bytes of simulated daily bars straight from the model's arrays, 3x faster than
building :class:`Bar` objects first.

A backfill of 1.26M bars spends most of its time in ``Bar.model_construct`` and
``Bar.to_bytes`` (~19 us a bar); formatting the JSON from the page's columns takes ~7 us and
gives byte-identical output (``tests/ingest/test_backfill.py`` checks it against
``SimulatedProvider.transform_data`` + ``Bar.to_bytes``). The price rules of :class:`Bar` are
checked on the whole page first, so nothing invalid is sent that the Bar path would reject.
"""

from __future__ import annotations

import numpy as np

from sextant_ingest.providers import simulated
from sextant_ingest.providers.simulated import RawPage, SimulatedQuery


def check_page(raw: RawPage) -> None:
    """Raise ``ValueError`` naming the first row that breaks :class:`Bar`'s price rules
    (positive finite prices, high/low bounding open/close, finite non-negative volume)."""
    simulated.check_page(raw, prefix="", suffix="")


def encode_page(plan: SimulatedQuery, raw: RawPage, source: str) -> list[bytes]:
    """The JSON bytes ``Bar.to_bytes`` gives for each row of ``raw`` (revision 0, ``ts_known``
    = the bar's end capped at ``plan.now``, as ``SimulatedProvider.transform_data`` sets)."""
    check_page(raw)
    known_ns = np.minimum(raw.starts + plan.step_ns, plan.now_ns)
    events = np.datetime_as_string(raw.starts.astype("datetime64[ns]"), unit="s").tolist()
    knowns = np.datetime_as_string(known_ns.astype("datetime64[ns]"), unit="s").tolist()
    instrument = raw.instrument
    # Field order and formats are Bar's: pydantic writes floats as Python's repr does and UTC
    # datetimes as ...Z; ids are validated ([A-Za-z0-9.-_:/^]) so they need no escaping.
    template = (
        f'{{"instrument_id":"{instrument.instrument_id}",'
        f'"asset_class":"{instrument.asset_class.value}","interval":"{plan.interval.value}",'
        '"ts_event":"%sZ","open":%r,"high":%r,"low":%r,"close":%r,"volume":%r,'
        f'"source":"{_json_text(source)}","ts_known":"%sZ","revision":0}}'
    )
    rows = zip(
        events,
        raw.open.tolist(),
        raw.high.tolist(),
        raw.low.tolist(),
        raw.close.tolist(),
        raw.volume.tolist(),
        knowns,
        strict=True,
    )
    return [(template % row).encode() for row in rows]


def _json_text(text: str) -> str:
    if any(c in text for c in '"\\') or not text.isprintable():
        raise ValueError(f"source {text!r} needs JSON escaping; use plain letters")
    return text
