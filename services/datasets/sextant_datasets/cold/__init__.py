"""Cold storage upkeep of the bars lake: compaction, cross-partition reads, stats, integrity
checks and calendar-aware gap reports. :class:`ColdStorageManager` is the entry point."""

from sextant_datasets.cold.compaction import CompactionPolicy, CompactionResult
from sextant_datasets.cold.gaps import Gap, GapReport
from sextant_datasets.cold.integrity import IntegrityReport
from sextant_datasets.cold.manager import ColdStorageManager, StorageStats

__all__ = [
    "ColdStorageManager",
    "CompactionPolicy",
    "CompactionResult",
    "Gap",
    "GapReport",
    "IntegrityReport",
    "StorageStats",
]
