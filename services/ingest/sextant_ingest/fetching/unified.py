"""The unified fetcher: one entry point over every provider, with routing and fallback, rate
limits, retries, request coalescing, a hot and a cold cache, an audit trail and a DLQ.

A fetch goes: route (primary first) -> each provider validates the params -> hot cache ->
cold layer (bars the datasets service already holds) -> the providers in order, each with
bounded retries, falling back to the next one when a provider cannot answer.

Fallback rule: the next provider is tried after any failure of the current one, including
NotFound and NoData (a symbol or range unknown at the primary may exist at the fallback) and a
ValueError from its ``transform_query`` (its params may differ). When all fail, the error says
what everyone answered: all NotFound -> ``NotFound``; all NotFound/NoData -> ``NoData``; all
ValueError -> the primary's ``ValueError``; ValueErrors from the providers with keys and
MissingCredentials from the others -> the first ``ValueError`` (the params are what to fix);
anything else -> ``FetchFailed`` listing each. A provider's query validation error becomes
:class:`InvalidParams`, which names the caller's parameter (``params.start``) rather than
the provider's query class.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, is_dataclass
from types import TracebackType
from typing import Any, Literal

import httpx
import orjson
from pydantic import BaseModel, SecretStr, ValidationError

from sextant_common.events import AssetClass, Event
from sextant_common.instruments import Instrument
from sextant_ingest.fetching.audit import AuditLog, public_query
from sextant_ingest.fetching.bars import FetchedBars
from sextant_ingest.fetching.cache import HotCache, MemoryCache, RedisCache
from sextant_ingest.fetching.cold import DatasetsColdLayer
from sextant_ingest.fetching.credentials import Redactor
from sextant_ingest.fetching.errors import (
    FetchFailed,
    InvalidParams,
    NoProvider,
    RateWaitTooLong,
)
from sextant_ingest.fetching.limiter import Clock, RealClock, TokenBucket, retry_delay
from sextant_ingest.fetching.publish import EventSink, dead_letters
from sextant_ingest.fetching.registry import AnyFetcher, ProviderEntry, ProviderRegistry
from sextant_ingest.fetching.settings import FetchSettings
from sextant_ingest.providers.base import BarProvider
from sextant_ingest.providers.errors import (
    MalformedResponse,
    MissingCredentials,
    NoData,
    NotFound,
    ProviderError,
    RateLimited,
)
from sextant_ingest.providers.fetcher import DataKind, Reject, Transformed
from sextant_ingest.providers.http import ProviderHttp

log = logging.getLogger(__name__)

CacheLayer = Literal["hot", "cold", "miss"]
COLD_PROVIDER = "datasets"
"""``FetchResult.provider`` of bars served by the datasets service."""
DEFAULT_USER_AGENT = "Sextant/0.1 (financial research terminal)"
_WARN_EVERY_S = 60.0


@dataclass(frozen=True)
class FetchResult:
    """What a fetch returned and where it came from."""

    records: list[Event]
    provider: str
    dataset: str
    cache: CacheLayer
    """``hot`` (recent result), ``cold`` (the datasets service) or ``miss`` (fetched now)."""
    rejects: list[Reject] = field(default_factory=list)
    """Records of the response that could not be normalized (also in the audit and DLQ)."""
    attempts: int = 0
    """HTTP attempts at the answering provider (0 for cache hits)."""
    coalesced: bool = False
    """True when this fetch joined an identical one already in flight."""


@dataclass(frozen=True)
class ProviderStatus:
    """Whether a provider can be used, and if not, what to do about it."""

    name: str
    available: bool
    missing: tuple[str, ...] = ()
    """Variables to set for it to become available."""
    credentials: tuple[str, ...] = ()
    """Every variable holding a key it needs (set or not); empty for a keyless provider."""
    reason: str = ""
    kinds: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()
    rate_limit: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class _Runtime:
    limiter: TokenBucket
    http: ProviderHttp
    fetchers: dict[tuple[DataKind, str], AnyFetcher]
    slots: asyncio.Semaphore
    queued: int = 0


@dataclass(frozen=True)
class _Prepared:
    entry: ProviderEntry
    fetcher: AnyFetcher
    query: Any
    public: dict[str, Any]
    key: str


@dataclass(frozen=True)
class _Outcome:
    transformed: Transformed[Any] | None
    error: ProviderError | None
    attempts: int


class UnifiedFetcher:
    """Fetch any data kind from the best available provider. Use as ``async with``.

    ``http`` is shared by all providers (one is created, and closed, when not given);
    ``publisher`` receives dead letters of rejected records and serves :meth:`publish`.
    ``registry``, ``cache`` and ``clock`` default to what ``settings`` configures; tests
    inject them.
    """

    def __init__(
        self,
        settings: FetchSettings,
        http: httpx.AsyncClient | None = None,
        publisher: EventSink | None = None,
        *,
        registry: ProviderRegistry | None = None,
        cache: HotCache | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or ProviderRegistry.load(settings.fetch_providers)
        self.publisher = publisher
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=settings.fetch_timeout_s, follow_redirects=True
        )
        self._clock = clock or RealClock()
        self._rng = rng or random.Random()  # noqa: S311 retry jitter, not a secret
        if cache is not None:
            self.cache = cache
        elif settings.redis_url is not None:
            self.cache = RedisCache(settings.redis_url.get_secret_value())
        else:
            self.cache = MemoryCache(settings.fetch_cache_max_entries, self._clock)
        self._cold = (
            DatasetsColdLayer(
                settings.datasets_url,
                self._http,
                timeout_s=settings.fetch_cold_timeout_s,
                clock=self._clock,
            )
            if settings.datasets_url
            else None
        )
        self._redact = Redactor()
        self.audit = AuditLog(settings.data_dir / "audit", redact=self._redact)
        self._runtimes: dict[str, _Runtime] = {}
        self._own_bars: dict[str, BarProvider] = {}
        self._in_flight: dict[str, asyncio.Future[_Outcome]] = {}
        self._warned: dict[tuple[str, str], float] = {}

    async def __aenter__(self) -> UnifiedFetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client (if ours), the cache connection and the audit file."""
        if self._owns_http:
            await self._http.aclose()
        await self.cache.aclose()
        self.audit.close()

    # -- public API -----------------------------------------------------------------------

    async def fetch(
        self,
        kind: DataKind | str,
        params: Mapping[str, Any],
        *,
        asset_class: AssetClass | str | None = None,
        provider: str | None = None,
        dataset: str | None = None,
    ) -> FetchResult:
        """Records of ``kind`` for ``params`` (e.g. ``{"symbol": "AAPL", "start": "2024-01-02"}``).

        ``asset_class`` (or ``params["asset_class"]``) picks the route; ``provider`` asks one
        provider only (no fallback); ``dataset`` picks a dataset when a provider has several of
        one kind. Raises NotFound / NoData / ValueError / FetchFailed / NoProvider (see module).
        """
        started = time.perf_counter()
        kind = DataKind(kind)
        asset = _asset_class(asset_class or params.get("asset_class"))
        what = f"{kind.value}{':' + asset.value if asset else ''}"
        candidates = self._candidates(kind, asset, provider, dataset, what)

        prepared: list[_Prepared] = []
        failures: list[tuple[str, BaseException]] = []
        for entry, fetcher in candidates:
            try:
                query = fetcher.transform_query(params)
            except ValidationError as exc:  # worded with the caller's field names
                failures.append((entry.name, InvalidParams.from_validation(exc)))
                continue
            except ValueError as exc:
                failures.append((entry.name, exc))
                continue
            public = public_query(_as_dict(query))
            key = _cache_key(entry.name, fetcher.dataset, public)
            prepared.append(_Prepared(entry, fetcher, query, public, key))

        for item in prepared:
            hit = await self.cache.get(item.key)
            if hit is not None:
                self._audit(
                    item.entry.name,
                    item.fetcher.dataset,
                    kind,
                    item.public,
                    started,
                    status="cache_hit",
                    rows=len(hit),
                    cache="hot",
                )
                return FetchResult(hit, item.entry.name, item.fetcher.dataset, "hot")

        if kind is DataKind.BARS and self._cold is not None and asset is not None:
            cold = await self._from_cold(params, asset, provider, kind, started)
            if cold is not None:
                return cold

        for item in prepared:
            name = item.entry.name
            missing = self._missing_credentials(item.entry)
            if missing:
                failures.append((name, MissingCredentials(name, missing[0])))
                continue
            outcome, coalesced = await self._coalesced(item)
            if outcome.transformed is not None:
                records = outcome.transformed.records
                rejects = outcome.transformed.rejects
                self._audit(
                    name,
                    item.fetcher.dataset,
                    kind,
                    item.public,
                    started,
                    status="ok",
                    rows=len(records),
                    cache="miss",
                    attempts=outcome.attempts,
                    rejects=rejects,
                    coalesced=coalesced,
                    fallbacks=failures,
                )
                return FetchResult(
                    list(records),  # coalesced callers each get their own list
                    name,
                    item.fetcher.dataset,
                    "miss",
                    list(rejects),
                    outcome.attempts,
                    coalesced,
                )
            assert outcome.error is not None
            self._warn(name, outcome.error)
            failures.append((name, self._scrubbed(outcome.error)))

        rank = {entry.name: i for i, (entry, _) in enumerate(candidates)}
        failures.sort(key=lambda failure: rank.get(failure[0], len(rank)))  # route order
        error = _final_error(what, failures)
        last = prepared[-1] if prepared else None
        self._audit(
            failures[-1][0] if failures else "",
            last.fetcher.dataset if last else (dataset or ""),
            kind,
            last.public if last else public_query(dict(params)),
            started,
            status=_status_of(error),
            rows=0,
            cache="miss",
            fallbacks=failures,
        )
        raise error

    async def publish(self, records: Sequence[Event]) -> int:
        """Send ``records`` to their topics (``Event.TOPIC``, key = ``record.key``)."""
        if self.publisher is None:
            raise RuntimeError("UnifiedFetcher has no publisher: pass publisher= to publish")
        return await self.publisher.publish(records)

    def status(self) -> list[ProviderStatus]:
        """Every provider: available, or unavailable with the variables to set / the reason."""
        statuses = []
        for entry in self.registry.providers.values():
            missing = self._missing_credentials(entry)
            limit = entry.info.rate_limit
            statuses.append(
                ProviderStatus(
                    name=entry.name,
                    available=not missing,
                    missing=tuple(missing),
                    credentials=entry.info.credentials,
                    reason=f"set {', '.join(missing)}" if missing else "",
                    kinds=tuple(sorted({f.kind.value for f in entry.fetchers})),
                    datasets=tuple(f.dataset for f in entry.fetchers),
                    rate_limit=f"{limit.requests}/{limit.per_seconds:g}s",
                )
            )
        statuses += [
            ProviderStatus(name=name, available=False, reason=reason)
            for name, reason in self.registry.broken.items()
        ]
        return statuses

    def bar_provider(self, name: str, universe: Sequence[Instrument] | None = None) -> BarProvider:
        """Provider ``name`` as a bar source for the worker and the backfill.

        A module with its own ``BARS`` gives that class, built from the settings (one shared
        instance unless ``universe`` asks for another set of instruments); a provider with a
        bars fetcher gives a :class:`FetchedBars` over this fetcher (rate limits, caches,
        audit and keys apply) serving ``universe``, by default the instruments of the default
        universe it covers. The ValueError names the providers with bars.
        """
        entry = self.registry.entry(name)
        if entry.bars is not None:
            if universe is None:
                return self._bars_of(entry)
            return entry.bars.from_settings(self.settings, universe)
        if entry.fetcher_for(DataKind.BARS) is None:
            raise ValueError(
                f"provider {name!r} has no bars (providers with bars: {self.registry.with_bars()})"
            )
        return FetchedBars(self, entry, universe)

    def _bars_of(self, entry: ProviderEntry) -> BarProvider:
        """The shared instance of ``entry``'s own bar source (its ``bars`` dataset uses it too)."""
        assert entry.bars is not None
        if entry.name not in self._own_bars:
            self._own_bars[entry.name] = entry.bars.from_settings(self.settings)
        return self._own_bars[entry.name]

    # -- routing --------------------------------------------------------------------------

    def _candidates(
        self,
        kind: DataKind,
        asset: AssetClass | None,
        provider: str | None,
        dataset: str | None,
        what: str,
    ) -> list[tuple[ProviderEntry, AnyFetcher]]:
        if provider is not None:
            entry = self.registry.providers.get(provider)
            fetcher = entry.fetcher_for(kind, dataset) if entry else None
            if entry is None or fetcher is None:
                raise NoProvider(
                    provider,
                    f"no {kind.value} dataset{' ' + dataset if dataset else ''} "
                    f"(loaded providers: {sorted(self.registry.providers)})",
                )
            return [(entry, fetcher)]
        candidates = self.registry.candidates(kind, asset, self.settings.routes, dataset=dataset)
        if not candidates:
            raise NoProvider(
                "fetcher",
                f"no loaded provider serves {what}{' dataset ' + dataset if dataset else ''} "
                f"(loaded: {sorted(self.registry.providers)}; routes: SEXTANT_ROUTES)",
            )
        return candidates

    def _missing_credentials(self, entry: ProviderEntry) -> list[str]:
        if entry.name in self._runtimes:
            return []
        secrets: dict[str, SecretStr] = {}
        missing = []
        for variable in entry.info.credentials:
            value = self.settings.credential(variable)
            if value is None:
                missing.append(variable)
            else:
                secrets[variable] = value
        if missing:
            self._warn(entry.name, MissingCredentials(entry.name, missing[0]), once=True)
            return missing
        for variable in entry.optional_credentials:
            if (value := self.settings.credential(variable)) is not None:
                secrets[variable] = value
        self._redact.add(secrets[v] for v in entry.info.credentials)
        headers = {"User-Agent": entry.info.user_agent or DEFAULT_USER_AGENT}
        limiter = TokenBucket(
            entry.name,
            entry.info.rate_limit,
            max_wait_s=self.settings.fetch_max_wait_s,
            margin=self.settings.fetch_rate_margin,
            clock=self._clock,
        )
        base_url = self.settings.provider_base_urls.get(entry.name, entry.info.base_url)
        http = ProviderHttp(entry.name, self._http, base_url, limiter=limiter, headers=headers)
        bars = self._bars_of(entry) if entry.bars is not None else None
        fetchers = {(f.kind, f.dataset): f for f in entry.build_fetchers(secrets, bars)}
        slots = asyncio.Semaphore(self.settings.fetch_max_concurrency)
        self._runtimes[entry.name] = _Runtime(limiter, http, fetchers, slots)
        return []

    def limiter(self, provider: str) -> TokenBucket | None:
        """The rate limiter of ``provider`` (once it has been used or checked)."""
        runtime = self._runtimes.get(provider)
        return runtime.limiter if runtime else None

    # -- cold layer -----------------------------------------------------------------------

    async def _from_cold(
        self,
        params: Mapping[str, Any],
        asset: AssetClass,
        provider: str | None,
        kind: DataKind,
        started: float,
    ) -> FetchResult | None:
        assert self._cold is not None
        query = self._cold.query(params, provider)
        if query is None:
            return None
        key = _cache_key(COLD_PROVIDER, "bars", {**query, "asset_class": asset.value})
        hit = await self.cache.get(key)
        cache: CacheLayer = "hot"
        if hit is None:
            cache = "cold"
            bars = await self._cold.bars(query, asset)
            if bars is None:
                return None
            hit = list(bars)
            ttl = self.settings.cache_ttl(COLD_PROVIDER, "bars", kind)
            if ttl > 0:
                await self.cache.set(key, hit, ttl)
        self._audit(
            COLD_PROVIDER,
            "bars",
            kind,
            dict(query),
            started,
            status="cache_hit",
            rows=len(hit),
            cache=cache,
        )
        return FetchResult(hit, COLD_PROVIDER, "bars", cache)

    # -- remote fetch: coalescing, retries ------------------------------------------------

    async def _coalesced(self, item: _Prepared) -> tuple[_Outcome, bool]:
        task = self._in_flight.get(item.key)
        coalesced = task is not None
        if task is None:
            new_task = asyncio.ensure_future(self._fetch_remote(item))
            self._in_flight[item.key] = new_task

            def forget(done: asyncio.Future[_Outcome]) -> None:
                if self._in_flight.get(item.key) is done:
                    del self._in_flight[item.key]

            new_task.add_done_callback(forget)
            task = new_task
        # shield: one caller giving up must not cancel the fetch the others wait for
        return await asyncio.shield(task), coalesced

    async def _fetch_remote(self, item: _Prepared) -> _Outcome:
        name = item.entry.name
        runtime = self._runtimes[name]
        fetcher = runtime.fetchers[(item.fetcher.kind, item.fetcher.dataset)]
        settings = self.settings
        for attempt in range(1, settings.fetch_max_attempts + 1):
            try:
                async with self._slot(runtime):
                    raw = await fetcher.aextract_data(item.query, runtime.http)
                transformed = fetcher.transform_data(item.query, raw)
            except ProviderError as exc:
                if not exc.retryable or attempt == settings.fetch_max_attempts:
                    return _Outcome(None, exc, attempt)
                delay = retry_delay(
                    exc,
                    attempt,
                    base_s=settings.fetch_backoff_base_s,
                    max_s=settings.fetch_backoff_max_s,
                    rng=self._rng,
                )
                if delay > settings.fetch_max_wait_s:
                    return _Outcome(
                        None, RateWaitTooLong(name, delay, settings.fetch_max_wait_s), attempt
                    )
                log.debug(
                    "%s/%s attempt %d failed (%s); retry in %.2fs",
                    name,
                    fetcher.dataset,
                    attempt,
                    self._redact(str(exc)),
                    delay,
                )
                if isinstance(exc, RateLimited):
                    runtime.limiter.pause(delay)  # every request of this provider holds back
                else:
                    await self._clock.sleep(delay)
                continue
            except Exception as exc:  # a provider bug or a payload it did not expect
                log.exception("%s/%s failed to fetch or parse", name, fetcher.dataset)
                error = MalformedResponse(name, f"{exc.__class__.__name__}: {exc}")
                return _Outcome(None, error, attempt)
            await self._keep(item, transformed)
            return _Outcome(transformed, None, attempt)
        raise AssertionError("unreachable: the loop returns on its last attempt")

    @contextlib.asynccontextmanager
    async def _slot(self, runtime: _Runtime) -> AsyncIterator[None]:
        """Hold one of the provider's in-flight slots; fail fast when the requests queued
        ahead would need longer than the maximum wait at the provider's rate."""
        limiter = runtime.limiter
        if runtime.slots.locked():
            limit = limiter.limit
            ahead = runtime.queued + self.settings.fetch_max_concurrency
            wait = limiter.next_free() - self._clock.monotonic()
            wait += ahead * limiter.window_s / limit.requests
            if wait > limiter.max_wait_s:
                raise RateWaitTooLong(limiter.provider, wait, limiter.max_wait_s)
        runtime.queued += 1
        try:
            await runtime.slots.acquire()
        finally:
            runtime.queued -= 1
        try:
            yield
        finally:
            runtime.slots.release()

    async def _keep(self, item: _Prepared, transformed: Transformed[Any]) -> None:
        name, fetcher = item.entry.name, item.fetcher
        ttl = self.settings.cache_ttl(name, fetcher.dataset, fetcher.kind)
        if ttl > 0:
            await self.cache.set(item.key, transformed.records, ttl)
        if transformed.rejects and self.publisher is not None:
            letters = dead_letters(
                name,
                fetcher.dataset,
                fetcher.kind,
                transformed.rejects,
                self._redact.scrub_bytes,
                key=_shared_key(transformed.records),
            )
            try:
                await self.publisher.publish(letters)
            except Exception:
                log.exception(
                    "could not publish %d dead letters of %s/%s",
                    len(letters),
                    name,
                    fetcher.dataset,
                )

    # -- audit and logs -------------------------------------------------------------------

    def _audit(
        self,
        provider: str,
        dataset: str,
        kind: DataKind,
        query: dict[str, Any],
        started: float,
        *,
        status: str,
        rows: int,
        cache: CacheLayer,
        attempts: int = 0,
        rejects: Sequence[Reject] = (),
        coalesced: bool = False,
        fallbacks: Sequence[tuple[str, BaseException]] = (),
    ) -> None:
        self.audit.write(
            {
                "kind": kind.value,
                "provider": provider,
                "dataset": dataset,
                "query": query,
                "status": status,
                "rows": rows,
                "rejects": len(rejects),
                "reject_reasons": [r.reason for r in rejects[:20]],
                "latency_ms": round((time.perf_counter() - started) * 1000, 3),
                "cache": cache,
                "attempts": attempts,
                "coalesced": coalesced,
                "fallbacks": [
                    {"provider": name, "status": _status_of(exc), "error": str(exc)[:500]}
                    for name, exc in fallbacks
                ],
            }
        )

    def _scrubbed(self, error: ProviderError) -> ProviderError:
        """``error`` with known key values removed from its message (a provider may echo the
        key in an error body, and the message travels on to the gateway)."""
        error.args = tuple(self._redact(a) if isinstance(a, str) else a for a in error.args)
        return error

    def _warn(self, provider: str, error: BaseException, *, once: bool = False) -> None:
        """Log a provider failure at most once a minute per (provider, error type); a missing
        key only once per process."""
        key = (provider, type(error).__name__)
        now = time.monotonic()
        last = self._warned.get(key)
        if last is not None and (once or now - last < _WARN_EVERY_S):
            return
        self._warned[key] = now
        log.warning("provider %s unavailable: %s", provider, self._redact(str(error)))


def _asset_class(value: Any) -> AssetClass | None:
    if value is None:
        return None
    try:
        return AssetClass(value)
    except ValueError:
        raise ValueError(
            f"asset_class: {value!r} is not one of {[a.value for a in AssetClass]}"
        ) from None


def _as_dict(query: Any) -> dict[str, Any]:
    if isinstance(query, BaseModel):
        return query.model_dump(mode="json")
    if is_dataclass(query) and not isinstance(query, type):
        return orjson.loads(orjson.dumps(asdict(query), default=str))
    if isinstance(query, Mapping):
        return orjson.loads(orjson.dumps(dict(query), default=str))
    return {"query": repr(query)}


def _shared_key(records: Sequence[Event]) -> bytes | None:
    """The bus key every record of a response shares (one instrument, one series), if any: the
    key a rejected record of that response would have had."""
    keys = {getattr(r, "key", None) for r in records}
    key = keys.pop() if len(keys) == 1 else None
    return key if isinstance(key, bytes) else None


def _cache_key(provider: str, dataset: str, public: dict[str, Any]) -> str:
    digest = hashlib.sha256(orjson.dumps(public, option=orjson.OPT_SORT_KEYS, default=str))
    return f"{provider}/{dataset}/{digest.hexdigest()[:32]}"


def _status_of(error: BaseException) -> str:
    if isinstance(error, NotFound):
        return "not_found"
    if isinstance(error, NoData):
        return "no_data"
    return f"error:{type(error).__name__}"


def _final_error(what: str, failures: list[tuple[str, BaseException]]) -> Exception:
    names = ",".join(name for name, _ in failures)
    detail = "; ".join(str(exc) for _, exc in failures)
    errors = [exc for _, exc in failures]
    if len(errors) == 1 and isinstance(errors[0], ProviderError | ValueError):
        return errors[0]  # one provider asked: its own error says the most
    if errors and all(isinstance(e, NotFound) for e in errors):
        return NotFound(names, f"{what}: not found at any provider ({detail})")
    if errors and all(isinstance(e, NotFound | NoData) for e in errors):
        return NoData(names, f"{what}: no data at any provider ({detail})")
    if errors and all(isinstance(e, ValueError) for e in errors):
        first = errors[0]
        assert isinstance(first, ValueError)
        return first
    # Providers without keys were never asked: when every provider that could have been
    # refused the params, the caller's params are what to fix (a 422), not a 503.
    if any(isinstance(e, ValueError) for e in errors) and all(
        isinstance(e, ValueError | MissingCredentials) for e in errors
    ):
        return next(e for e in errors if isinstance(e, ValueError))
    return FetchFailed(what, failures)
