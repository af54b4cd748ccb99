"""Snapshots: content-addressed, immutable, verifiable copies of as-of bar queries."""

from sextant_datasets.snapshots.hashing import content_hash
from sextant_datasets.snapshots.manager import DatasetManager, snapshots_dir
from sextant_datasets.snapshots.model import (
    SNAPSHOT_SCHEMA,
    EmptySnapshot,
    FileCheck,
    Snapshot,
    SnapshotQuery,
    SnapshotTampered,
    UnknownSnapshot,
    VerifyReport,
)

__all__ = [
    "SNAPSHOT_SCHEMA",
    "DatasetManager",
    "EmptySnapshot",
    "FileCheck",
    "Snapshot",
    "SnapshotQuery",
    "SnapshotTampered",
    "UnknownSnapshot",
    "VerifyReport",
    "content_hash",
    "snapshots_dir",
]
