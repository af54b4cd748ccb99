"""The daily cross-section as numpy matrices (dates x instruments), and each instrument's own
observations packed to the top of its column so windowed statistics are plain gathers."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from sextant_common.versioned_cache import VersionedCache

FloatMatrix = npt.NDArray[np.float64]
"""(T, N): one row per date (or observation), one column per instrument."""
FloatArray = npt.NDArray[np.float64]
"""One value per instrument."""
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

US_PER_DAY = 86_400_000_000
ALIGNED_KEPT = 4
"""Benchmarks whose aligned copy of the panel is kept (each is ~4 panels of memory)."""


@dataclass(frozen=True)
class Packed:
    """Each column's observations (its non-missing rows of a matrix) moved to the top of the
    column, oldest first: ``close[k, j]`` is instrument ``j``'s ``k``-th close."""

    rows: IntArray
    """``(T, N)``: the matrix row of column ``j``'s ``k``-th observation (meaningful for
    ``k < counts[-1, j]``)."""
    counts: npt.NDArray[np.int32]
    """``(T, N)``: observations of column ``j`` on or before matrix row ``t``."""
    close: FloatMatrix
    volume: FloatMatrix

    @classmethod
    def of(cls, close: FloatMatrix, volume: FloatMatrix) -> Packed:
        """Pack the columns of ``close`` (NaN: no bar) and ``volume`` (same shape)."""
        valid = ~np.isnan(close)
        rows = np.argsort(~valid, axis=0, kind="stable").astype(np.int64)
        return cls(
            rows=rows,
            counts=np.cumsum(valid, axis=0, dtype=np.int32),
            close=np.take_along_axis(close, rows, axis=0),
            volume=np.take_along_axis(volume, rows, axis=0),
        )

    def last_index(self, row: int) -> IntArray:
        """Per column, the index of its last observation on or before matrix row ``row``
        (-1: none yet); ``row`` -1 means before the first row."""
        if row < 0:
            return np.full(self.counts.shape[1], -1, dtype=np.int64)
        last: IntArray = self.counts[row].astype(np.int64) - 1
        return last


def trailing(matrix: FloatMatrix, last: IntArray, length: int) -> FloatMatrix:
    """``(length, N)``: column ``j``'s ``length`` packed values ending at index ``last[j]``,
    oldest first; NaN where the column has fewer (so any statistic over them is NaN)."""
    index = last[None, :] - np.arange(length - 1, -1, -1)[:, None]
    values = np.take_along_axis(matrix, np.clip(index, 0, None), axis=0)
    values[index < 0] = np.nan
    return values


@dataclass(frozen=True, eq=False)
class Panel:
    """Daily closes and volumes of every instrument on the union of their bar dates.

    ``close`` is in the instrument's price units, ``volume`` in shares (or contracts); a date
    on which an instrument has no bar is NaN in both. Dates are UTC calendar days (bar start).
    """

    dates: npt.NDArray[np.datetime64]
    """``(T,)`` ascending, ``datetime64[D]``."""
    symbols: tuple[str, ...]
    sources: tuple[str, ...]
    asset_classes: tuple[str, ...]
    close: FloatMatrix
    """``(T, N)``."""
    volume: FloatMatrix
    _aligned: VersionedCache[Aligned] = field(
        default_factory=lambda: VersionedCache[Aligned](
            max_entries=ALIGNED_KEPT, name="screener_aligned"
        ),
        repr=False,
    )

    @classmethod
    def from_arrow(cls, table: pa.Table) -> Panel:
        """The panel of a ``GET /v1/panel`` stream (one row per instrument and daily bar:
        instrument_id, source, asset_class, ts_event, close, volume)."""
        table = table.unify_dictionaries().combine_chunks()
        instruments = _dictionary(table.column("instrument_id"))
        symbols = instruments.dictionary.to_pylist()
        column = instruments.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        micros = table.column("ts_event").cast(pa.int64()).to_numpy()
        dates, row = np.unique(micros // US_PER_DAY, return_inverse=True)
        close = np.full((len(dates), len(symbols)), np.nan)
        volume = np.full_like(close, np.nan)
        close[row, column] = table.column("close").to_numpy()
        volume[row, column] = table.column("volume").to_numpy()
        first_row = np.zeros(len(symbols), dtype=np.int64)
        first_row[column[::-1]] = np.arange(len(column))[::-1]  # each instrument's first row
        return cls(
            dates=dates.astype("datetime64[D]"),
            symbols=tuple(symbols),
            sources=_per_instrument(table.column("source"), first_row),
            asset_classes=_per_instrument(table.column("asset_class"), first_row),
            close=close,
            volume=volume,
        )

    @cached_property
    def index(self) -> dict[str, int]:
        """Column of each symbol."""
        return {s: i for i, s in enumerate(self.symbols)}

    @cached_property
    def packed(self) -> Packed:
        """Every instrument's own observations, packed (see :class:`Packed`)."""
        return Packed.of(self.close, self.volume)

    def aligned_to(self, benchmark: int) -> Aligned:
        """Every instrument's observations on the dates column ``benchmark`` has a bar, with
        the benchmark's close beside each (kept for the last few benchmarks asked)."""
        aligned = self._aligned.get(benchmark, None)
        if aligned is None:
            aligned = Aligned.of(self, benchmark)
            self._aligned.put(benchmark, None, aligned)
        return aligned

    def row_on_or_before(self, day: np.datetime64) -> int:
        """The last row dated on or before ``day`` (-1 when every row is later)."""
        return int(np.searchsorted(self.dates, day, side="right")) - 1


@dataclass(frozen=True)
class Aligned:
    """The panel restricted to a benchmark's bar dates, packed: ``packed.close[k, j]`` and
    ``benchmark[k, j]`` are instrument ``j``'s and the benchmark's closes on their ``k``-th
    common date."""

    rows: IntArray
    """Panel rows on which the benchmark has a bar."""
    packed: Packed
    benchmark: FloatMatrix

    @classmethod
    def of(cls, panel: Panel, column: int) -> Aligned:
        """Align ``panel`` on the dates of its column ``column``."""
        rows = np.flatnonzero(~np.isnan(panel.close[:, column]))
        packed = Packed.of(panel.close[rows], panel.volume[rows])
        return cls(rows, packed, panel.close[rows, column][packed.rows])

    def last_index(self, row: int) -> IntArray:
        """Per instrument, the index of its last common date on or before panel row ``row``."""
        return self.packed.last_index(int(np.searchsorted(self.rows, row, side="right")) - 1)


def _dictionary(column: pa.ChunkedArray) -> pa.DictionaryArray:
    array = column.combine_chunks()
    encoded: pa.DictionaryArray = (
        array if pa.types.is_dictionary(array.type) else array.dictionary_encode()
    )
    return encoded


def _per_instrument(column: pa.ChunkedArray, rows: IntArray) -> tuple[str, ...]:
    """The value of ``column`` at each instrument's row ``rows[j]``."""
    values = _dictionary(column)
    codes = values.indices.to_numpy(zero_copy_only=False)[rows]
    names = values.dictionary.to_pylist()
    return tuple(names[c] for c in codes)
