"""Typed provider errors, so the unified fetcher can retry, wait or fall back."""

from __future__ import annotations


class ProviderError(Exception):
    """A provider could not answer. ``retryable`` errors may succeed on a later attempt."""

    retryable = False

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider


class MissingCredentials(ProviderError):
    """The provider needs a key that is not configured; ``variable`` says what to set."""

    def __init__(self, provider: str, variable: str) -> None:
        super().__init__(provider, f"unavailable: set {variable}")
        self.variable = variable


class Unauthorized(ProviderError):
    """401/403: the key is wrong, expired or lacks the entitlement."""


class NotFound(ProviderError):
    """The provider does not know the asked symbol/series (HTTP 404 at the gateway)."""


class NoData(ProviderError):
    """The query is valid but the provider has no records for it (e.g. an empty range)."""


class RateLimited(ProviderError):
    """429: wait ``retry_after`` seconds (from the Retry-After header when given)."""

    retryable = True

    def __init__(self, provider: str, retry_after: float | None) -> None:
        super().__init__(provider, f"rate limited (retry after {retry_after}s)")
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """5xx, timeouts, connection errors."""

    retryable = True


class MalformedResponse(ProviderError):
    """The whole response could not be parsed (a single bad record is a Reject instead)."""
