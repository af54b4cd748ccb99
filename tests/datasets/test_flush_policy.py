"""When the lake consumer flushes: big files while catching up, low latency once caught up."""

from __future__ import annotations

from sextant_common.durable_consumer import FlushPolicy

POLICY = FlushPolicy(rows=1_000, seconds=0.5, max_seconds=5.0)


def test_a_full_buffer_flushes_at_once() -> None:
    assert POLICY.due(1_000, 0.0, caught_up=False)


def test_a_backlog_keeps_buffering_until_the_hard_age_limit() -> None:
    assert not POLICY.due(500, 4.9, caught_up=False)
    assert POLICY.due(500, 5.0, caught_up=False)


def test_once_caught_up_bars_wait_at_most_the_short_age() -> None:
    assert not POLICY.due(1, 0.4, caught_up=True)
    assert POLICY.due(1, 0.5, caught_up=True)
