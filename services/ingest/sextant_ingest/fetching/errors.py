"""Errors of the unified fetcher, on top of the providers' typed errors.

How the gateway maps them: ``NotFound``/``NoData``/``NoProvider`` -> 404, ``ValueError`` (bad
params) -> 422, ``RateLimited`` (incl. ``RateWaitTooLong``) -> 429 with ``Retry-After``,
``FetchFailed`` and other ``ProviderUnavailable`` -> 503.
"""

from __future__ import annotations

from collections.abc import Sequence

from sextant_ingest.providers.errors import ProviderError, ProviderUnavailable, RateLimited


class RateWaitTooLong(RateLimited):
    """Waiting for the provider's rate limit (or its Retry-After) would exceed the configured
    maximum, so the request fails now instead of hanging or hammering the API."""

    retryable = False

    def __init__(self, provider: str, wait_s: float, max_wait_s: float) -> None:
        super().__init__(provider, wait_s)
        self.args = (
            f"{provider}: rate limit needs a {wait_s:.1f}s wait, over SEXTANT_FETCH_MAX_WAIT_S="
            f"{max_wait_s:g}; retry later or raise the maximum",
        )


class NoProvider(ProviderError):
    """No loaded provider serves this kind / asset class / dataset."""


class FetchFailed(ProviderUnavailable):
    """Every provider of the route failed; ``failures`` says how, provider by provider."""

    def __init__(self, what: str, failures: Sequence[tuple[str, BaseException]]) -> None:
        detail = "; ".join(f"{exc}" for _, exc in failures)
        super().__init__(",".join(name for name, _ in failures), f"{what}: all failed ({detail})")
        self.failures = list(failures)
