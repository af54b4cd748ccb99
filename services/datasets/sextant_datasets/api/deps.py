"""Shared FastAPI dependencies of the datasets API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sextant_common.versioned_cache import VersionedCache
from sextant_datasets.catalog import Catalog
from sextant_datasets.dlq.store import DeadLetterStore
from sextant_datasets.lake.reader import LakeReader


def _reader(request: Request) -> LakeReader:
    reader: LakeReader = request.app.state.reader
    return reader


def _response_cache(request: Request) -> VersionedCache[tuple[bytes, str]]:
    cache: VersionedCache[tuple[bytes, str]] = request.app.state.response_cache
    return cache


def _catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


def _dead_letters(request: Request) -> DeadLetterStore:
    store: DeadLetterStore = request.app.state.dead_letters
    return store


ReaderDep = Annotated[LakeReader, Depends(_reader)]
CatalogDep = Annotated[Catalog, Depends(_catalog)]
DeadLetterStoreDep = Annotated[DeadLetterStore, Depends(_dead_letters)]
BarsCacheDep = Annotated[VersionedCache[tuple[bytes, str]], Depends(_response_cache)]
"""Bar answers as known now: (JSON body, ETag) per query, valid until the next flush."""
