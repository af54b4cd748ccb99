"""``POST /v1/fetch`` (one query through the unified fetcher) and ``GET /v1/providers``."""

from __future__ import annotations

import math
from typing import Any

import orjson
from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from sextant_common.http_errors import error_responses, field_error
from sextant_ingest.fetching import InvalidParams, NoProvider, UnifiedFetcher
from sextant_ingest.providers.errors import NoData, NotFound, ProviderError, RateLimited
from sextant_ingest.providers.fetcher import DataKind

router = APIRouter(tags=["fetch"])

MAX_RECORDS_RETURNED = 10_000


class FetchCreate(BaseModel):
    """One query: the kind of data, the provider's parameters, and whether to publish it."""

    model_config = ConfigDict(extra="forbid")

    kind: DataKind
    params: dict[str, Any] = Field(default_factory=dict)
    asset_class: str | None = None
    provider: str | None = Field(None, description="Only this provider (no fallback)")
    dataset: str | None = None
    publish: bool = Field(True, description="Publish the records on their topic")


def _fetcher(request: Request) -> UnifiedFetcher:
    fetcher: UnifiedFetcher = request.app.state.fetcher
    return fetcher


@router.get("/v1/providers")
def providers(request: Request) -> list[dict[str, Any]]:
    """Every provider: available, or unavailable with the variables to set."""
    return [status.as_dict() for status in _fetcher(request).status()]


@router.post(
    "/v1/fetch",
    responses=error_responses(
        {
            404: "Unknown symbol or series, or no data",
            429: "Rate limited (Retry-After says when to try again)",
            503: "Every provider failed",
        }
    ),
)
async def fetch(request: Request, body: FetchCreate) -> Response:
    """Fetch through routing, fallback, rate limits and caches; publish unless told not to.

    404 unknown symbol/series or no data, 422 bad params, 429 rate limited (with Retry-After),
    503 every provider failed.
    """
    fetcher = _fetcher(request)
    try:
        result = await fetcher.fetch(
            body.kind,
            body.params,
            asset_class=body.asset_class,
            provider=body.provider,
            dataset=body.dataset,
        )
    except InvalidParams as exc:  # one entry per bad field, located where the caller put it
        raise HTTPException(
            status_code=422,
            detail=[
                {"loc": ["body", *e.loc], "msg": e.message, "type": e.type} for e in exc.errors
            ],
        ) from None
    except ValueError as exc:
        raise field_error("params", str(exc), location="body") from None
    except (NotFound, NoData, NoProvider) as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except RateLimited as exc:
        headers = {"Retry-After": str(math.ceil(exc.retry_after or 1))}
        raise HTTPException(status_code=429, detail=str(exc), headers=headers) from None
    except ProviderError as exc:  # FetchFailed, ProviderUnavailable, Unauthorized, ...
        raise HTTPException(status_code=503, detail=str(exc)) from None
    if body.publish and result.records:
        await fetcher.publish(result.records)
    payload = {
        "provider": result.provider,
        "dataset": result.dataset,
        "cache": result.cache,
        "rows": len(result.records),
        "rejects": [{"reason": r.reason} for r in result.rejects],
        "published": body.publish,
        "records": [r.model_dump(mode="json") for r in result.records[:MAX_RECORDS_RETURNED]],
    }
    return Response(orjson.dumps(payload), media_type="application/json")
