"""Fixtures shared by the provider tests of tests/ingest."""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator

import httpx
import pytest

from sextant_ingest.providers.fetcher import ProviderInfo
from sextant_ingest.providers.http import ProviderHttp


@pytest.fixture
async def http(request: pytest.FixtureRequest) -> AsyncIterator[ProviderHttp]:
    """A ProviderHttp over a real httpx client (respx fakes the network) for the provider of the
    test module: ``test_provider_<name>.py`` gets ``sextant_ingest.providers.<name>.PROVIDER``.
    No default headers on purpose: a fetcher must send its own (User-Agent, key)."""
    name = request.module.__name__.rpartition(".")[2].removeprefix("test_provider_")
    provider: ProviderInfo = importlib.import_module(f"sextant_ingest.providers.{name}").PROVIDER
    async with httpx.AsyncClient() as client:
        yield ProviderHttp(provider.name, client, provider.base_url)
