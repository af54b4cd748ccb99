"""The lake's admission rules (pure), and the source registry both ingest and datasets read.

The registry test is what keeps ``sextant_common.sources`` and ingest's providers from drifting:
a provider added to ingest without its name in the registry fails here, not in production where
its bars would be dead-lettered.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sextant_common.events import Interval
from sextant_common.sources import HTTP_SOURCES, OFFLINE_SOURCES, PROVIDER_SOURCES
from sextant_datasets.admission import BarAdmission
from sextant_datasets.settings import DatasetsSettings
from sextant_ingest.fetching import FetchSettings, ProviderRegistry
from tests.support import make_bar

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
RULES = BarAdmission.build()


def test_every_ingest_provider_is_a_registered_source() -> None:
    registry = ProviderRegistry.load(FetchSettings.model_fields["fetch_providers"].default)
    assert not registry.broken, registry.broken
    assert set(registry.providers) == HTTP_SOURCES | OFFLINE_SOURCES
    for entry in registry.providers.values():
        assert {f.provider.name for f in entry.fetchers} == {entry.name}
    offline = {name for name, entry in registry.providers.items() if not entry.info.base_url}
    assert offline == OFFLINE_SOURCES
    assert PROVIDER_SOURCES == HTTP_SOURCES | OFFLINE_SOURCES


def test_sources_outside_the_registry_are_refused_unless_configured() -> None:
    bar = make_bar(source="test")
    reason = RULES.refusal(bar, NOW)
    assert reason is not None and "'test' is not a registered provider" in reason
    assert "SEXTANT_EXTRA_SOURCES" in reason
    assert RULES.refusal(make_bar(source="polygon"), NOW) is None
    assert BarAdmission.build(["test"]).refusal(bar, NOW) is None


def test_extra_sources_and_clock_skew_are_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEXTANT_EXTRA_SOURCES", '["test", "acme"]')
    monkeypatch.setenv("SEXTANT_CLOCK_SKEW_S", "60")
    settings = DatasetsSettings()
    rules = BarAdmission.build(settings.extra_sources, settings.clock_skew_s)
    assert {"test", "acme"} <= rules.sources and rules.clock_skew == timedelta(seconds=60)


@pytest.mark.parametrize(
    ("interval", "start", "refused"),
    [
        pytest.param(Interval.S5, NOW - timedelta(seconds=5), False, id="5s-just-ended"),
        pytest.param(Interval.S5, NOW + timedelta(minutes=5), False, id="5s-within-skew"),
        pytest.param(Interval.S5, NOW + timedelta(minutes=6), True, id="5s-beyond-skew"),
        pytest.param(Interval.D1, NOW.replace(hour=0) + timedelta(days=1), False, id="1d-tomorrow"),
        pytest.param(Interval.D1, NOW + timedelta(days=1, minutes=6), True, id="1d-beyond"),
        pytest.param(Interval.D1, datetime(2030, 1, 2, tzinfo=UTC), True, id="1d-2030"),
    ],
)
def test_bars_may_start_at_most_one_bar_plus_the_skew_after_now(
    interval: Interval, start: datetime, refused: bool
) -> None:
    bar = make_bar(ts_event=start, interval=interval, source="shipped", ts_known=NOW)
    reason = RULES.refusal(bar, NOW)
    assert (reason is not None) is refused, reason
    if refused:
        assert reason is not None and "is in the future" in reason


def test_a_bar_known_after_it_was_received_is_refused() -> None:
    day = datetime(2026, 5, 1, tzinfo=UTC)
    within = make_bar(ts_event=day, source="shipped", ts_known=NOW + timedelta(minutes=4))
    assert RULES.refusal(within, NOW) is None  # clock skew
    later = make_bar(ts_event=day, source="shipped", ts_known=NOW + timedelta(hours=1))
    reason = RULES.refusal(later, NOW)
    assert reason is not None and reason.startswith("ts_known 2026-06-01T13:00:00Z")


def test_a_negative_skew_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="clock skew"):
        BarAdmission.build(clock_skew_s=-1)
