"""Quotas per user and route: which ones exist, how a route charges them, what it answers.

A route calls :func:`charge` with the quota's name, the subject (user id, or user name for
failed logins) and the cost in units; it gets the ``RateLimit-*`` headers to add, or an
:class:`~fastapi.HTTPException`: 429 with ``Retry-After`` when the window is spent, 422 when the
request alone costs more than the whole window allows (waiting would not help: make it
smaller). The counting is a sliding window (:mod:`sextant_gateway.quota_window`), in Redis when
``SEXTANT_REDIS_URL`` is set (:mod:`sextant_gateway.quota_redis`: shared by the replicas,
in-process fallback during an outage), in process otherwise.

The app holds one :class:`Quotas` on ``app.state.quotas``: ``Quotas.from_settings(settings)``
at start, ``await quotas.close()`` at shutdown.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from fastapi import HTTPException, Request
from prometheus_client import Counter
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sextant_gateway.quota_redis import RedisLimiter
from sextant_gateway.quota_window import Decision, Limiter, MemoryLimiter, QuotaRule

__all__ = [
    "DEFAULT_QUOTAS",
    "QUOTA_REJECTIONS",
    "Decision",
    "QuotaRule",
    "QuotaSettings",
    "Quotas",
    "charge",
    "check",
    "quota_headers",
]

DEFAULT_QUOTAS: dict[str, str] = {
    "backtests": "10/hour",
    "sweeps": "20000/hour",  # units: grid cells, symbols x fast x slow pairs
    "agent": "20/hour",
    "fetch": "60/hour",
    "login": "10/15minutes",  # failed attempts, keyed by user name
}

QUOTA_REJECTIONS = Counter(
    "sextant_quota_rejections_total",
    "Requests refused by a quota: 429 (window spent) or 422 (the request alone exceeds it)",
    ["quota"],
)


class QuotaSettings(BaseSettings):
    """``SEXTANT_QUOTAS``: JSON object of quota name to rule (``{"backtests": "5/hour"}``),
    merged over :data:`DEFAULT_QUOTAS` (names not given keep their default);
    ``SEXTANT_REDIS_URL``: count in Redis, shared by every replica (unset: in process)."""

    model_config = SettingsConfigDict(env_prefix="SEXTANT_", env_file=".env", extra="ignore")

    quotas: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_QUOTAS))
    redis_url: SecretStr | None = None
    quota_redis_timeout_s: float = 0.5
    """Longest a quota decision waits for Redis before deciding in process (seconds)."""
    quota_memory_max_keys: int = 100_000
    """Most (quota, subject) pairs counted in process (least recently used forgotten first)."""

    @field_validator("quotas")
    @classmethod
    def _parse(cls, value: dict[str, str]) -> dict[str, str]:
        merged = {**DEFAULT_QUOTAS, **value}
        for name, text in merged.items():
            try:
                QuotaRule.parse(text)
            except ValueError as exc:
                raise ValueError(f"SEXTANT_QUOTAS[{name!r}]: {exc}") from None
        return merged

    def rules(self) -> dict[str, QuotaRule]:
        """Each quota's parsed rule."""
        return {name: QuotaRule.parse(text) for name, text in self.quotas.items()}


class Quotas:
    """The configured rules and the limiter counting them (``request.app.state.quotas``)."""

    def __init__(self, rules: Mapping[str, QuotaRule], limiter: Limiter) -> None:
        self._rules = dict(rules)
        self.limiter = limiter
        for name in self._rules:  # every quota's series exists from the start, at 0
            QUOTA_REJECTIONS.labels(name)

    @classmethod
    def from_settings(cls, settings: QuotaSettings | None = None) -> Quotas:
        """Rules from ``settings`` (default: the environment), counted in Redis when
        ``redis_url`` is set, else in process."""
        settings = settings or QuotaSettings()
        memory = MemoryLimiter(max_keys=settings.quota_memory_max_keys)
        limiter: Limiter = memory
        if settings.redis_url:
            limiter = RedisLimiter(
                settings.redis_url.get_secret_value(),
                fallback=memory,
                timeout_s=settings.quota_redis_timeout_s,
            )
        return cls(settings.rules(), limiter)

    def rule(self, name: str) -> QuotaRule:
        """The rule of quota ``name``; a KeyError lists the configured ones."""
        try:
            return self._rules[name]
        except KeyError:
            raise KeyError(f"no quota {name!r}; configured: {sorted(self._rules)}") from None

    async def hit(self, name: str, subject: str, cost: int = 1) -> Decision:
        """Spend ``cost`` units of ``subject``'s quota ``name`` if they fit (else spend none)."""
        return await self.limiter.hit(_key(name, subject), self.rule(name), cost)

    async def peek(self, name: str, subject: str, cost: int = 1) -> Decision:
        """Whether ``cost`` units of ``subject``'s quota ``name`` fit now, spending nothing."""
        return await self.limiter.peek(_key(name, subject), self.rule(name), cost)

    async def close(self) -> None:
        """Close the Redis connections, if any."""
        await self.limiter.close()


def _key(name: str, subject: str) -> str:
    return f"{len(name)}:{name}:{subject}"  # length-prefixed: no (name, subject) pair collides


def quota_headers(decision: Decision) -> dict[str, str]:
    """``RateLimit-Limit``, ``-Remaining``, ``-Reset`` (seconds until one unit is free, rounded
    up) and ``-Policy`` (``"10;w=3600"``) as in the IETF draft, plus ``Retry-After`` (whole
    seconds, rounded up) when refused and waiting will help."""
    headers = {
        "RateLimit-Limit": str(decision.limit),
        "RateLimit-Remaining": str(decision.remaining),
        "RateLimit-Reset": str(_ceil(decision.reset_s)),
        "RateLimit-Policy": f"{decision.limit};w={_ceil(decision.window_s)}",
    }
    if not decision.allowed and decision.retry_after_s is not None:
        headers["Retry-After"] = str(_ceil(decision.retry_after_s))
    return headers


async def charge(request: Request, quota_name: str, subject: str, cost: int = 1) -> dict[str, str]:
    """Spend ``cost`` units of ``subject``'s quota ``quota_name`` and return the headers to add
    to the answer; raise a 429 (window spent, with ``Retry-After``) or a 422 (the cost alone
    exceeds the limit) naming the quota, its limit and when it frees up."""
    quotas: Quotas = request.app.state.quotas
    return _admit(quota_name, await quotas.hit(quota_name, subject, cost))


async def check(request: Request, quota_name: str, subject: str, cost: int = 1) -> dict[str, str]:
    """Like :func:`charge` but spends nothing: for quotas charged only on some outcomes
    (``login``: check before verifying the password, charge when it is wrong)."""
    quotas: Quotas = request.app.state.quotas
    return _admit(quota_name, await quotas.peek(quota_name, subject, cost))


def _admit(quota_name: str, decision: Decision) -> dict[str, str]:
    headers = quota_headers(decision)
    if decision.allowed:
        return headers
    QUOTA_REJECTIONS.labels(quota_name).inc()
    rule = QuotaRule(decision.limit, decision.window_s)
    if decision.exceeds_limit:
        raise HTTPException(
            status_code=422,
            detail=f"{quota_name} quota allows {rule}; this request costs {decision.cost}, "
            "more than a whole window: make it smaller",
            headers=headers,
        )
    raise HTTPException(
        status_code=429,
        detail=f"{quota_name} quota of {rule} has {decision.remaining} left and this request "
        f"costs {decision.cost}: it fits again in {headers['Retry-After']} s",
        headers=headers,
    )


def _ceil(seconds: float) -> int:
    # Rounded up: a client that waits this long is never early.
    return max(0, math.ceil(seconds))
