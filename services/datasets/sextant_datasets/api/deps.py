"""Shared FastAPI dependencies of the datasets API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sextant_common.response_cache import ResponseCache
from sextant_datasets.catalog import Catalog
from sextant_datasets.lake.reader import LakeReader


def _reader(request: Request) -> LakeReader:
    reader: LakeReader = request.app.state.reader
    return reader


def _response_cache(request: Request) -> ResponseCache:
    cache: ResponseCache = request.app.state.response_cache
    return cache


def _catalog(request: Request) -> Catalog:
    catalog: Catalog = request.app.state.catalog
    return catalog


ReaderDep = Annotated[LakeReader, Depends(_reader)]
CatalogDep = Annotated[Catalog, Depends(_catalog)]
ResponseCacheDep = Annotated[ResponseCache, Depends(_response_cache)]
