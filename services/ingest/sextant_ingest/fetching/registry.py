"""The one provider registry: modules by name, their fetchers indexed by (kind, dataset) and by
provider, and which of them have bars.

A provider module exposes ``PROVIDER: ProviderInfo`` and ``FETCHERS: tuple[type[Fetcher], ...]``,
and, when it makes its bars itself, ``BARS`` (a ``BarProvider`` class): its ``bars`` dataset is
then derived (:class:`~sextant_ingest.providers.history.HistoryFetcher`), so the module is
written once and serves the unified fetcher, the worker and the backfill alike (see
``UnifiedFetcher.bar_provider``). A module that does not exist is skipped (debug log):
providers land one by one. A module that exists but fails to import (say, a missing optional
dependency) is kept as unavailable with the reason, so ``status()`` shows it.

Fetchers take their keys in the constructor, ``FetcherClass(credentials={variable: value})``
(the providers' convention); a derived ``bars`` fetcher takes the module's ``BarProvider``
instance, ``FetcherClass(bars=...)``. The registry keeps one instance per class built without
keys, for routing and query validation; the unified fetcher builds keyed instances once keys
resolve. Besides the required ``ProviderInfo.credentials``, a provider may read optional
variables (a User-Agent override, say); they are the module's ``SEXTANT_*`` string constants,
until ProviderInfo declares them.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from pydantic import SecretStr

from sextant_common.events import AssetClass
from sextant_ingest.providers.base import BarProvider
from sextant_ingest.providers.fetcher import DataKind, Fetcher, ProviderInfo
from sextant_ingest.providers.history import DATASET as HISTORY_DATASET
from sextant_ingest.providers.history import HistoryFetcher

log = logging.getLogger(__name__)

PROVIDERS_PACKAGE = "sextant_ingest.providers"

AnyFetcher = Fetcher[Any, Any]
_VARIABLE = re.compile(r"SEXTANT_[A-Z0-9_]+")


@dataclass
class ProviderEntry:
    """One loaded provider and a keyless instance of each of its fetchers."""

    info: ProviderInfo
    fetchers: list[AnyFetcher]
    optional_credentials: tuple[str, ...] = ()
    """Variables the provider reads when set, beyond the required ``info.credentials``."""
    bars: type[BarProvider] | None = None
    """The module's own bar source (``BARS``), when it makes its bars itself."""
    module: str = ""
    """The module it was loaded from (empty when registered directly)."""

    def build_fetchers(
        self, credentials: Mapping[str, SecretStr], bars: BarProvider | None = None
    ) -> list[AnyFetcher]:
        """New instances of its fetchers holding ``credentials`` (classes without a
        ``credentials`` parameter are built without) or, for the derived ``bars`` dataset,
        the module's ``bars`` instance.

        Values are handed over revealed: providers accept ``SecretStr | str`` but some wrap
        with ``SecretStr(str(v))``, which turns a SecretStr into its mask."""
        revealed = {k: v.get_secret_value() for k, v in credentials.items()}
        built = []
        for template in self.fetchers:
            cls = type(template)
            parameters = inspect.signature(cls).parameters
            kwargs: dict[str, Any] = {}
            if "credentials" in parameters:
                kwargs["credentials"] = dict(revealed)
            if "bars" in parameters:
                kwargs["bars"] = bars
            built.append(cls(**kwargs))
        return built

    @property
    def has_bars(self) -> bool:
        """Whether the worker and the backfill can take bars from it (its own ``BARS``, or a
        fetcher of kind bars)."""
        return self.bars is not None or self.fetcher_for(DataKind.BARS) is not None

    @property
    def name(self) -> str:
        """The provider's name."""
        return self.info.name

    def serves(self, asset_class: AssetClass | None) -> bool:
        """Whether the provider covers ``asset_class`` (an empty declaration covers any)."""
        return (
            asset_class is None
            or not self.info.asset_classes
            or (asset_class in self.info.asset_classes)
        )

    def fetcher_for(self, kind: DataKind, dataset: str | None = None) -> AnyFetcher | None:
        """Its first fetcher of ``kind`` (and ``dataset`` when given)."""
        for fetcher in self.fetchers:
            if fetcher.kind == kind and (dataset is None or fetcher.dataset == dataset):
                return fetcher
        return None


@dataclass
class ProviderRegistry:
    """Loaded providers in load order, plus the modules that failed to import."""

    providers: dict[str, ProviderEntry] = field(default_factory=dict)
    broken: dict[str, str] = field(default_factory=dict)
    """Module name -> why it could not be loaded."""
    by_dataset: dict[tuple[DataKind, str], list[AnyFetcher]] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)
    """Module name as configured (``simulated``, ``tests.x.acme``) -> its provider's name."""

    @classmethod
    def load(cls, names: Iterable[str]) -> ProviderRegistry:
        """Import each provider module (bare names live under ``sextant_ingest.providers``)."""
        registry = cls()
        for name in names:
            module_name = name if "." in name else f"{PROVIDERS_PACKAGE}.{name}"
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name == module_name:
                    log.debug("provider module %s does not exist yet; skipped", module_name)
                    continue
                registry._broken(name, f"missing dependency {exc.name!r}")
                continue
            except Exception as exc:
                registry._broken(name, f"import failed: {exc.__class__.__name__}: {exc}")
                continue
            loaded = registry._by_module.get(module.__name__)
            if loaded is not None:  # the same module under another spelling
                registry.modules[name] = loaded
                continue
            try:
                entry = registry.add_module(module)
            except (AttributeError, TypeError, ValueError) as exc:
                registry._broken(name, str(exc))
                continue
            registry.modules[name] = entry.name
        return registry

    @property
    def _by_module(self) -> dict[str, str]:
        return {e.module: e.name for e in self.providers.values() if e.module}

    def add_module(self, module: ModuleType) -> ProviderEntry:
        """Register a provider module's ``PROVIDER``, ``FETCHERS`` and (optional) ``BARS``."""
        info = getattr(module, "PROVIDER", None)
        fetchers = getattr(module, "FETCHERS", None)
        bars = getattr(module, "BARS", None)
        if not isinstance(info, ProviderInfo) or fetchers is None:
            raise TypeError(
                f"provider module {module.__name__} must define PROVIDER (a ProviderInfo) and "
                "FETCHERS (a tuple of Fetcher classes)"
            )
        if bars is not None and not (isinstance(bars, type) and issubclass(bars, BarProvider)):
            raise TypeError(f"{module.__name__}.BARS must be a BarProvider class, not {bars!r}")
        optional = {
            v for v in vars(module).values() if isinstance(v, str) and _VARIABLE.fullmatch(v)
        }
        entry = self.add(
            info, fetchers, optional=sorted(optional - set(info.credentials)), bars=bars
        )
        entry.module = module.__name__
        return entry

    def add(
        self,
        info: ProviderInfo,
        fetchers: Sequence[type[AnyFetcher]],
        *,
        optional: Sequence[str] = (),
        bars: type[BarProvider] | None = None,
    ) -> ProviderEntry:
        """Register provider ``info`` with its fetcher classes, optional variables and own bar
        source (whose ``bars`` dataset is derived unless a fetcher already has it)."""
        if info.name in self.providers:
            raise ValueError(f"provider {info.name!r} is registered twice")
        if bars is not None:
            if bars.name != info.name:
                raise ValueError(f"{bars.__name__}.name is {bars.name!r}, not {info.name!r}")
            if not any(f.kind == DataKind.BARS and f.dataset == HISTORY_DATASET for f in fetchers):
                fetchers = [*fetchers, HistoryFetcher.of(info, bars)]
        instances: list[AnyFetcher] = []
        for fetcher_cls in fetchers:
            fetcher = fetcher_cls()
            if fetcher.provider.name != info.name:
                raise ValueError(
                    f"{fetcher_cls.__name__}.provider is {fetcher.provider.name!r}, "
                    f"not {info.name!r}"
                )
            instances.append(fetcher)
            self.by_dataset.setdefault((fetcher.kind, fetcher.dataset), []).append(fetcher)
        entry = ProviderEntry(info, instances, tuple(optional), bars)
        self.providers[info.name] = entry
        return entry

    def entry(self, name: str) -> ProviderEntry:
        """The provider called ``name`` (or loaded from module ``name``); the ValueError lists
        the loaded ones."""
        found = self.providers.get(self.modules.get(name, name))
        if found is None:
            raise ValueError(
                f"provider {name!r} is not loaded (loaded: {sorted(self.providers)}; "
                "SEXTANT_FETCH_PROVIDERS lists the modules)"
            )
        return found

    def with_bars(self) -> list[str]:
        """Names of the providers the worker and the backfill can take bars from."""
        return [name for name, entry in self.providers.items() if entry.has_bars]

    def candidates(
        self,
        kind: DataKind,
        asset_class: AssetClass | None,
        routes: dict[str, list[str]],
        *,
        dataset: str | None = None,
    ) -> list[tuple[ProviderEntry, AnyFetcher]]:
        """Providers to try for a query, primary first, each with the fetcher to use.

        The most specific route (``"bars:equity"``, then ``"bars"``) gives the order and the
        only providers tried. Without a route, or when no routed provider has the asked
        ``dataset``, every loaded provider able to serve it is tried in load order, except
        those declared ``fallback=False`` (the simulated market).
        """
        for key in ([f"{kind.value}:{asset_class.value}"] if asset_class else []) + [kind.value]:
            if key in routes:
                routed = self._capable(
                    (self.providers[n] for n in routes[key] if n in self.providers),
                    kind,
                    asset_class,
                    dataset,
                )
                if routed or dataset is None:
                    return routed
                break
        fallbacks = (e for e in self.providers.values() if e.info.fallback)
        return self._capable(fallbacks, kind, asset_class, dataset)

    @staticmethod
    def _capable(
        entries: Iterable[ProviderEntry],
        kind: DataKind,
        asset_class: AssetClass | None,
        dataset: str | None,
    ) -> list[tuple[ProviderEntry, AnyFetcher]]:
        found = []
        for entry in entries:
            fetcher = entry.fetcher_for(kind, dataset)
            if fetcher is not None and entry.serves(asset_class):
                found.append((entry, fetcher))
        return found

    def _broken(self, name: str, reason: str) -> None:
        log.warning("provider %s unavailable: %s", name, reason)
        self.broken[name] = reason
