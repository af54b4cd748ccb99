"""The option chain consumer: ``md.options.v1`` -> the lake, every snapshot kept.

The fetched datasets' sink (:class:`~sextant_datasets.facts.sink.FactSink`: buffer, write
idempotently on ``(source, contract, ts_event)``, commit exactly the offsets written, a record
that is not a valid :class:`~sextant_common.events.OptionQuote` dead-lettered with the reason,
its key and headers) over ``md.options.v1`` only, in a
consumer group of its own (``<datasets_group>.options``) so a backlog of chains never holds up
the other datasets.
"""

from __future__ import annotations

from sextant_common import topics
from sextant_datasets.facts.sink import FactSink
from sextant_datasets.options.store import option_writer
from sextant_datasets.settings import DatasetsSettings


def option_sink(settings: DatasetsSettings) -> FactSink:
    """The consumer of ``md.options.v1`` as ``settings`` configure it."""
    return FactSink(
        bootstrap=settings.require_bootstrap(),
        group_id=f"{settings.datasets_group}.options",
        writer=option_writer(settings.lake_dir),
        topics=(topics.MD_OPTIONS,),
    )
