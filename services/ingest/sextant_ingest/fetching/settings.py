"""Settings of the unified fetcher (``SEXTANT_*`` variables).

Provider keys are not fields here: each provider names its own variables
(``ProviderInfo.credentials``), so :meth:`FetchSettings.credential` looks a variable up in the
explicit ``credentials`` mapping, the environment, the secrets file and ``.env``, in that order.
This module is the only place of the fetcher that reads the environment.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from sextant_common.events import AssetClass
from sextant_common.settings import CommonSettings
from sextant_ingest.fetching.credentials import read_secrets_file
from sextant_ingest.providers.fetcher import DataKind

PROVIDER_MODULES = (
    "polygon",
    "tiingo",
    "oanda",
    "coinbase",
    "coingecko",
    "databento",
    "sec_edgar",
    "newsapi",
    "fred",
    "worldbank",
    "imf",
    "french",
    "reddit",
    "google_trends",
    "shipped",
    "simulated",
)
"""Provider modules under ``sextant_ingest.providers`` loaded by default (the offline ones,
``shipped`` and ``simulated``, answer only when asked for by name)."""

DEFAULT_ROUTES: dict[str, list[str]] = {
    "bars:equity": ["polygon", "tiingo"],
    "bars:etf": ["polygon", "tiingo"],
    "bars:index": ["polygon", "tiingo"],
    "bars:fx": ["oanda", "polygon"],
    "bars:crypto": ["coinbase", "coingecko", "polygon"],
    "bars:future": ["databento"],
    "macro": ["fred", "worldbank", "imf"],
}


class FetchSettings(CommonSettings):
    """Which providers to load, how to route between them, and the limits, caches and audit."""

    fetch_providers: list[str] = list(PROVIDER_MODULES)
    """Provider modules to load: a bare name is ``sextant_ingest.providers.<name>``, a dotted
    name is imported as is. A module that does not exist is skipped. The worker's and the
    backfill's providers are loaded from the same registry (see ``IngestSettings``)."""
    routes: dict[str, list[str]] = Field(default_factory=lambda: dict(DEFAULT_ROUTES))
    """Provider order per ``"<kind>:<asset class>"`` or ``"<kind>"`` (primary first). Without a
    matching route every loaded provider of the kind is tried, in load order."""
    provider_base_urls: dict[str, str] = {}
    """Base URL per provider name, replacing the one it declares (``ProviderInfo.base_url``):
    a proxy, a regional mirror, or a fixture server in tests. URLs a provider spells out in
    full (SEC EDGAR's ticker table) are not affected."""
    credentials: dict[str, SecretStr] = {}
    """Provider keys given directly (variable name -> value); tests and embedding code use it."""
    secrets_file: Path | None = None
    """A ``KEY=VALUE`` (.env style) or JSON object file with provider keys."""
    redis_url: SecretStr | None = None
    """Hot cache in Redis (``redis://host:port/db``); unset: an in-process cache."""
    datasets_url: str | None = None
    """The datasets service, asked for bars before any remote provider; unset: no cold layer."""
    fetch_cache_ttl_s: dict[str, float] = {}
    """Hot-cache TTL in seconds by ``"<provider>/<dataset>"``, ``"<dataset>"`` or ``"<kind>"``;
    0 disables caching for that entry."""
    fetch_cache_default_ttl_s: float = 300.0
    fetch_cache_max_entries: int = 10_000
    """Entries the in-process cache keeps (least recently used are evicted first)."""
    fetch_max_attempts: int = Field(3, ge=1)
    """Attempts per provider for retryable errors (429, 5xx, timeouts) before falling back."""
    fetch_backoff_base_s: float = Field(0.5, ge=0)
    """First retry delay; doubles each attempt, plus up to 50% random jitter."""
    fetch_backoff_max_s: float = Field(30.0, ge=0)
    fetch_max_wait_s: float = Field(60.0, ge=0)
    """Longest a request waits for a rate-limit token or a Retry-After; longer fails fast."""
    fetch_rate_margin: float = Field(0.05, ge=0)
    """Run this fraction under each provider's published limit (0.05: a token of a 5/60s
    limit comes back after 63 s), so network jitter never puts one request too many in a
    window the API counts."""
    fetch_max_concurrency: int = Field(8, ge=1)
    """Requests in flight per provider. A token is taken only by a request about to be sent,
    so requests queued in the HTTP pool never reach the API late, bunched into the next
    rate-limit window."""
    fetch_timeout_s: float = Field(30.0, gt=0)
    """HTTP timeout of one provider request."""
    fetch_cold_timeout_s: float = Field(2.0, gt=0)
    """HTTP timeout of the datasets service (cold layer)."""
    sim_seed: int = 7
    """Seed of the ``simulated`` provider's market."""

    @field_validator("secrets_file")
    @classmethod
    def _check_secrets_file(cls, path: Path | None) -> Path | None:
        if path is not None and not path.is_file():
            raise ValueError(f"SEXTANT_SECRETS_FILE={path} does not exist or is not a file")
        return path

    @field_validator("routes")
    @classmethod
    def _check_routes(cls, routes: dict[str, list[str]]) -> dict[str, list[str]]:
        for key in routes:
            kind, _, asset = key.partition(":")
            if kind not in DataKind.__members__.values():
                raise ValueError(
                    f"SEXTANT_ROUTES key {key!r}: kind must be one of {[k.value for k in DataKind]}"
                )
            if asset and asset not in AssetClass.__members__.values():
                raise ValueError(
                    f"SEXTANT_ROUTES key {key!r}: asset class must be one of "
                    f"{[a.value for a in AssetClass]}"
                )
        return routes

    def cache_ttl(self, provider: str, dataset: str, kind: DataKind) -> float:
        """TTL (seconds) of a dataset's results in the hot cache."""
        for key in (f"{provider}/{dataset}", dataset, kind.value):
            if key in self.fetch_cache_ttl_s:
                return self.fetch_cache_ttl_s[key]
        return self.fetch_cache_default_ttl_s

    def credential(self, variable: str) -> SecretStr | None:
        """The value of provider key ``variable``, or None when it is not configured anywhere."""
        if variable in self.credentials:
            return self.credentials[variable]
        value = os.environ.get(variable)
        if value:
            return SecretStr(value)
        for path in (self.secrets_file, Path(".env")):
            if path is not None and (found := read_secrets_file(path).get(variable)):
                return found
        return None
