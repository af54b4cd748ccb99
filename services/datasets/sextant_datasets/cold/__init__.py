"""Cold storage upkeep of the bars lake: compaction, cross-partition reads, stats, integrity
checks and calendar-aware gap reports (missing sessions of daily bars, missing bars of
intraday ones). :class:`ColdStorageManager` is the entry point.

Layout (see ``lake.layout``): dataset/interval/symbol/year[/month], i.e.
``bars/interval=I/symbol=S/year=Y[/month=MM]/*.parquet``. Daily-and-longer bars stop at the
year (10 years x 500 symbols = 5,000 partitions, not 60,000 month files); intraday bars add the
month. Compaction keeps that layout and only reduces the number of files per partition.
"""

from sextant_datasets.cold.compaction import CompactionPolicy, CompactionResult
from sextant_datasets.cold.gaps import BarGap, Gap, GapReport, IntradayGapReport
from sextant_datasets.cold.integrity import IntegrityReport
from sextant_datasets.cold.manager import ColdStorageManager, StorageStats

__all__ = [
    "BarGap",
    "ColdStorageManager",
    "CompactionPolicy",
    "CompactionResult",
    "Gap",
    "GapReport",
    "IntegrityReport",
    "IntradayGapReport",
    "StorageStats",
]
