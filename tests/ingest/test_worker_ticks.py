"""Live bars are published one batch per tick: the worker groups what arrives together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from sextant_common.events import Bar
from sextant_ingest.worker import ticks
from tests.support import make_bar

T0 = datetime(2026, 1, 5, 15, tzinfo=UTC)


async def _live(runs: list[int], fail: bool = False) -> AsyncIterator[Bar]:
    for n, size in enumerate(runs):
        for i in range(size):
            yield make_bar(f"S{i}", T0 + timedelta(minutes=n))
        await asyncio.sleep(0.01)  # the next boundary
    if fail:
        raise RuntimeError("provider broke")


async def test_bars_that_arrive_together_form_one_tick() -> None:
    sizes = [len(tick) async for tick in ticks(_live([52, 3, 1]))]
    assert sizes == [52, 3, 1]


async def test_a_provider_error_reaches_the_worker() -> None:
    seen = []
    with pytest.raises(RuntimeError, match="provider broke"):
        async for tick in ticks(_live([2], fail=True)):
            seen.append(len(tick))
    assert seen == [2]
