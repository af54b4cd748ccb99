"""Errors of the unified fetcher, on top of the providers' typed errors.

How the gateway maps them: ``NotFound``/``NoData``/``NoProvider`` -> 404, ``ValueError`` (bad
params; :class:`InvalidParams` has one entry per bad field) -> 422, ``RateLimited`` (incl.
``RateWaitTooLong``) -> 429 with ``Retry-After``, ``FetchFailed`` and other
``ProviderUnavailable`` -> 503.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

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


class InvalidParams(ValueError):
    """A query's parameters failed a provider's validation, worded for the caller: each error
    names the parameter path it sent (``params.start``), never a provider's query class."""

    def __init__(self, errors: Sequence[ParamError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in self.errors))

    @classmethod
    def from_validation(cls, exc: ValidationError, root: str = "params") -> InvalidParams:
        """The errors of a pydantic ``ValidationError`` raised while validating ``root``."""
        return cls(
            [
                ParamError(
                    (root, *(str(part) for part in error["loc"])),
                    _message(error["msg"]),
                    error["type"],
                )
                for error in exc.errors()
            ]
        )


@dataclass(frozen=True)
class ParamError:
    """One bad parameter: where (``("params", "start")``), what is wrong, pydantic's type."""

    loc: tuple[str, ...]
    message: str
    type: str = "value_error"

    @property
    def path(self) -> str:
        """The location as a dotted path, e.g. ``params.start``."""
        return ".".join(self.loc)


def _message(msg: str) -> str:
    # pydantic prefixes messages of ValueErrors raised in validators with "Value error, ".
    return msg.removeprefix("Value error, ")
