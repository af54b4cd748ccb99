"""The HTTP client every provider uses: auth-free transport, rate limit, typed errors.

Status codes become typed errors (401/403 Unauthorized, 404 NotFound, 429 RateLimited with the
Retry-After delay, 5xx ProviderUnavailable). Each request first takes a token from the
provider's rate limiter, so pagination inside one fetch is limited too. Secrets are passed as
headers or params by the caller and never logged.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from sextant_ingest.providers.errors import (
    MalformedResponse,
    NotFound,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
)


class Limiter(Protocol):
    """Anything that can make a caller wait for permission to send one request."""

    async def acquire(self) -> None:
        """Return when one more request is allowed."""


class _Unlimited:
    async def acquire(self) -> None:
        return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now_ts = time.time() if now is None else now
    return max(0.0, when.timestamp() - now_ts)


class ProviderHttp:
    """An ``httpx.AsyncClient`` bound to one provider's base URL, limiter and User-Agent."""

    def __init__(
        self,
        provider: str,
        client: httpx.AsyncClient,
        base_url: str,
        *,
        limiter: Limiter | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.provider = provider
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._limiter = limiter or _Unlimited()
        self._headers = dict(headers or {})
        self.requests = 0

    async def get(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """GET a path (joined to the base URL) or an absolute URL; raise typed errors."""
        return await self._send("GET", path_or_url, params=params, headers=headers)

    async def post_form(
        self,
        path_or_url: str,
        *,
        data: Mapping[str, str],
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """POST ``data`` as form fields (an RPC-style API such as Databento's); raise typed
        errors. Limited and counted like a GET."""
        return await self._send("POST", path_or_url, data=data, headers=headers)

    async def _send(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        url = path_or_url if "://" in path_or_url else f"{self._base_url}/{path_or_url.lstrip('/')}"
        await self._limiter.acquire()
        self.requests += 1
        try:
            response = await self._client.request(
                method, url, params=params, data=data, headers={**self._headers, **(headers or {})}
            )
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(self.provider, f"timeout: {exc.__class__.__name__}") from None
        except httpx.TransportError as exc:
            raise ProviderUnavailable(self.provider, f"connection error: {exc}") from None
        _raise_for_status(self.provider, response)
        return response

    async def get_json(self, path_or_url: str, **kwargs: Any) -> Any:
        """GET and decode JSON; a body that is not JSON raises MalformedResponse."""
        response = await self.get(path_or_url, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise MalformedResponse(
                self.provider, f"body is not JSON ({response.text[:80]!r})"
            ) from None


def _raise_for_status(provider: str, response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    detail = response.text[:200]
    if status in (401, 403):
        raise Unauthorized(provider, f"HTTP {status}: {detail}")
    if status == 404:
        raise NotFound(provider, f"HTTP 404: {detail}")
    if status == 429:
        raise RateLimited(provider, parse_retry_after(response.headers.get("Retry-After")))
    if status >= 500:
        raise ProviderUnavailable(provider, f"HTTP {status}: {detail}")
    raise MalformedResponse(provider, f"HTTP {status}: {detail}")


def utc_now() -> datetime:
    """Knowledge time for records fetched now."""
    return datetime.now(UTC)
