"""Content hash of a snapshot's rows, independent of how Parquet lays them out in bytes.

Parquet bytes depend on the writer (pyarrow stamps its version into ``created_by``; encodings and
page sizes change between releases), so the snapshot address is computed from the values
instead: a sha256 over a canonical binary encoding of the table, column by column, in row order.

Encoding, after the tag ``sextant-snapshot-rows-v1``: the schema as JSON ``[[name, type], ...]``,
the row count (int64 LE), then per column its name, the positions of its nulls (uint64 LE) and
its values with nulls filled by zero / the empty string: fixed-width types as their little-endian
bytes (timestamps as int64 microseconds, floats as IEEE-754 bits, so -0.0 and NaN payloads
count), strings as int64 LE lengths followed by their UTF-8 bytes. Every variable-length part is
length-prefixed, so no two different tables share an encoding.
"""

from __future__ import annotations

import hashlib
import struct
import sys
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

TAG = b"sextant-snapshot-rows-v1"

if sys.byteorder != "little":  # Arrow buffers are native-endian; the encoding is little-endian
    raise ImportError("snapshot hashing assumes a little-endian machine")


def content_hash(table: pa.Table) -> str:
    """sha256 (hex) of the canonical encoding of ``table`` (schema, row order and values)."""
    digest = hashlib.sha256(TAG)
    _chunk(digest, orjson.dumps([[f.name, str(f.type)] for f in table.schema]))
    digest.update(struct.pack("<q", table.num_rows))
    for field, column in zip(table.schema, table.columns, strict=True):
        array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
        _chunk(digest, field.name.encode())
        _chunk(digest, _bytes_of(pc.indices_nonzero(array.is_null()).cast(pa.uint64())))
        _update_values(digest, array)
    return digest.hexdigest()


def file_sha256(data: bytes) -> str:
    """sha256 (hex) of a file's bytes."""
    return hashlib.sha256(data).hexdigest()


def _chunk(digest: Any, data: bytes | memoryview) -> None:
    digest.update(struct.pack("<q", len(data)))
    digest.update(data)


def _update_values(digest: Any, array: pa.Array) -> None:
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        filled = array.fill_null("").cast(pa.large_string())
        digest.update(_bytes_of(pc.binary_length(filled).cast(pa.int64())))
        offsets = memoryview(filled.buffers()[1]).cast("q")
        first, last = offsets[filled.offset], offsets[filled.offset + len(filled)]
        data = filled.buffers()[2]
        digest.update(memoryview(data)[first:last] if data is not None else b"")
    elif pa.types.is_timestamp(kind):
        digest.update(_bytes_of(array.cast(pa.int64()).fill_null(0)))
    elif pa.types.is_floating(kind) or pa.types.is_integer(kind):
        digest.update(_bytes_of(array.fill_null(0)))
    else:
        raise TypeError(f"content_hash has no canonical encoding for column type {kind}")


def _bytes_of(array: pa.Array) -> memoryview:
    """The value bytes of a fixed-width array without nulls, honouring its slice offset."""
    width = array.type.bit_width // 8
    values = array.buffers()[1]
    if values is None:
        return memoryview(b"")
    start = array.offset * width
    return memoryview(values)[start : start + len(array) * width]
