"""Providers by name, so settings can choose them."""

from __future__ import annotations

from collections.abc import Callable

from sextant_ingest.providers.base import BarProvider
from sextant_ingest.settings import IngestSettings


def _shipped(_settings: IngestSettings) -> BarProvider:
    from sextant_ingest.providers.shipped import ShippedProvider

    return ShippedProvider()


def _simulated(settings: IngestSettings) -> BarProvider:
    from sextant_ingest.providers.simulated import SimulatedProvider

    return SimulatedProvider(seed=settings.sim_seed)


# Providers are imported on first use: a provider's dependencies load only if it is configured.
_FACTORIES: dict[str, Callable[[IngestSettings], BarProvider]] = {
    "shipped": _shipped,
    "simulated": _simulated,
}


def provider_names() -> list[str]:
    """Every bar provider :func:`build_provider` knows (each is also its bars' ``source``)."""
    return sorted(_FACTORIES)


def build_provider(name: str, settings: IngestSettings) -> BarProvider:
    """Instantiate the provider called ``name``; the error lists the known names."""
    try:
        return _FACTORIES[name](settings)
    except KeyError:
        raise ValueError(
            f"unknown provider {name!r} in SEXTANT_INGEST_PROVIDERS (known: {provider_names()})"
        ) from None
