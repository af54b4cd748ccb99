"""The gateway's ``/openapi.json`` describes every public route with the services' own models,
on public paths, with every status it can answer, and nothing internal; schemathesis finds no
failure against it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from sextant_gateway.openapi import MOUNTS, internal_path, merge_documents, public_path
from tests.conftest import Stack

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


def _operation(responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"operationId": "x", "responses": responses, **extra}


def _service_doc(schema: dict[str, Any]) -> dict[str, Any]:
    body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}}
    return {
        "paths": {
            "/v1/backtests": {"post": _operation({"202": {"description": "ok"}}, requestBody=body)},
            "/v1/factors": {"get": _operation({"200": {"description": "ok"}})},
            "/health": {"get": _operation({"200": {"description": "ok"}})},
            "/status": {"get": _operation({"200": {"description": "ok"}})},
        },
        "components": {"schemas": {"Thing": schema}},
    }


def test_merge_publishes_service_paths_with_gateway_statuses_and_nothing_internal() -> None:
    merged = merge_documents(
        {"openapi": "3.1.0", "info": {"title": "g", "version": "1"}, "paths": {}},
        {"quant": _service_doc({"type": "object"}), "datasets": _service_doc({"type": "array"})},
    )
    assert set(merged["paths"]) == {"/api/v1/backtests", "/api/v1/quant/factors"}
    create = merged["paths"]["/api/v1/backtests"]["post"]
    assert {"400", "415", "422", "503"} <= set(create["responses"])
    error = create["responses"]["415"]["content"]["application/json"]["schema"]
    assert error == {"$ref": "#/components/schemas/ErrorPublic"}
    assert merged["components"]["schemas"]["ErrorPublic"]["required"] == ["detail"]
    ids = [op["operationId"] for item in merged["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    # datasets' different "Thing" is renamed, quant's reference still points at its own
    assert merged["components"]["schemas"]["Thing"] == {"type": "object"}
    assert merged["components"]["schemas"]["DatasetsThing"] == {"type": "array"}


def test_public_and_internal_paths_are_inverse_and_refuse_everything_else() -> None:
    for mount in MOUNTS:
        inner = mount.internal + "/x"
        public = public_path(mount.service, inner)
        assert public is not None and internal_path(public) == (mount.service, inner)
    assert internal_path("/api/v1/quant/factors") == ("quant", "/v1/factors")
    assert internal_path("/api/v1/quant/../metrics") is None
    assert internal_path("/api/v1/datasets/snapshots/../../health") is None
    assert internal_path("/api/v1/quant/backtests") is None  # alias of /api/v1/backtests
    assert internal_path("/api/v1/datasets/bars") is None  # alias of /api/v1/bars
    assert public_path("ingest", "/status") is None


@pytest.mark.integration
def test_gateway_document_describes_every_public_route(full_stack: Stack) -> None:
    response = httpx.get(f"{full_stack.gateway_url}/openapi.json", timeout=30)
    assert response.status_code == 200, response.text
    document = response.json()
    paths: dict[str, dict[str, Any]] = document["paths"]
    assert all(p.startswith("/api/v1/") and "{path}" not in p for p in paths), sorted(paths)
    for expected in (
        "/api/v1/bars",
        "/api/v1/backtests",
        "/api/v1/quant/risk/var",
        "/api/v1/quant/options/price",
        "/api/v1/datasets/snapshots/{snapshot_id}",
        "/api/v1/fetch",
    ):
        assert expected in paths
    operations = [(method, path, op) for path, item in paths.items() for method, op in item.items()]
    ids = [op["operationId"] for _, _, op in operations]
    assert len(ids) == len(set(ids))
    for method, path, op in operations:
        responses = op["responses"]
        assert "503" in responses, (method, path)
        if method == "post":
            assert "415" in responses, path
        for status, answer in responses.items():
            if status.startswith(("4", "5")):
                assert answer["content"]["application/json"]["schema"], (method, path, status)
    body = paths["/api/v1/backtests"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/BacktestCreate"}
    assert "404" in paths["/api/v1/bars"]["get"]["responses"]
    assert "Duplicate Operation ID" not in "\n".join(full_stack.log)
    # the relays reach published paths only, never a service's internal ones
    for hidden in ("/api/v1/quant/..%2Fmetrics", "/api/v1/datasets/%2E%2E/health"):
        answer = httpx.get(f"{full_stack.gateway_url}{hidden}", auth=full_stack.auth("viewer"))
        assert answer.status_code == 404


# Operations whose validation has a rule JSON Schema cannot state; every single-field rule is in
# the schema. A schema-valid request there may rightly get a 422 naming the field.
SEMANTIC_422 = (
    # end >= start (a pair of fields), on every operation taking a range:
    "get_api_v1_bars",
    "get_api_v1_datasets_macro",
    "get_api_v1_datasets_macro_aligned",
    "get_api_v1_datasets_news",
    "get_api_v1_datasets_signals",
    "get_api_v1_datasets_storage_gaps",
    "get_api_v1_quant_factors",
    "get_api_v1_quant_factors_attribution",
    "get_api_v1_quant_factors_rolling",
    "get_api_v1_quant_regimes",
    # + symbols and weights of equal length:
    "post_api_v1_quant_factors_portfolio",
    "post_api_v1_quant_risk_var",
    # + a cross's fast window below its slow one, MR's exit z below its entry z (in one string):
    "post_api_v1_backtests",
    # + some (fast, slow) pair with fast < slow:
    "post_api_v1_sweeps",
    # + as_of not in the future (the clock), and rows stored in the range (the data):
    "post_api_v1_datasets_snapshots",
    # params depend on kind and on each provider's query model (e.g. "q or tickers"):
    "post_api_v1_fetch",
    # array inputs must broadcast against each other (lengths across fields):
    "post_api_v1_quant_options_implied_vol",
    "post_api_v1_quant_options_price",
    "post_api_v1_quant_options_surface",
    # position ids unique across the list (uniqueItems can only compare whole objects):
    "post_api_v1_quant_risk_stress",
    # the window must fit the symbols' common history, their returns must vary (data), and the
    # symbols be distinct (uniqueness inside one comma-separated string):
    "get_api_v1_quant_correlations",
    # the expiry must be listed in the stored snapshot, which needs enough quotes to fit (data):
    "get_api_v1_quant_options_chain",
    "get_api_v1_quant_options_surface",
    # each indicator string's own grammar (name:param:...) and its window against the bars
    # stored (data):
    "get_api_v1_quant_indicators",
)


# The stack under test has no provider keys: every real provider of a kind fails, which
# POST /api/v1/fetch answers with its documented 503 ("every provider failed"); a 500 still fails.
UPSTREAM_503 = ("post_api_v1_fetch",)


def _schemathesis_config(path: Path) -> Path:
    accepted = '["2xx", "3xx", "401", "403", "404", "409", "410", "422", "429", "5xx"]'
    blocks = [
        f'[[operations]]\ninclude-operation-id = "{op_id}"\n'
        f"checks.positive_data_acceptance.expected-statuses = {accepted}\n"
        + (
            'checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]\n'
            if op_id in UPSTREAM_503
            else ""
        )
        for op_id in SEMANTIC_422
    ]
    # A query over the relay limit is refused with 414 URI Too Long, a rejection too.
    rejected = (
        '["400", "401", "403", "404", "405", "406", "409", "414", "415", "422", "428", "429", '
        '"5xx"]'
    )
    rejection = f"[checks]\nnegative_data_rejection.expected-statuses = {rejected}\n"
    path.write_text("\n".join([rejection, *blocks]))
    return path


@pytest.mark.integration
@pytest.mark.slow
def test_schemathesis_finds_no_failure(full_stack: Stack, tmp_path: Path) -> None:
    """Bounded run (a few hundred cases, < 60 s), as an admin so every route is reached.
    Storage compaction is excluded: each call rewrites the lake's files and blocks for the
    compaction grace period; so is key rotation: each call makes an RSA key (a bodyless POST,
    whose 415 without a JSON content type is documented); and so are changes to a user: with
    names it reads from ``GET /api/v1/users`` it would disable or re-password the suite's test
    users (tests/gateway/test_auth_http.py covers those routes)."""
    cli = Path(sys.executable).parent / "schemathesis"
    token = full_stack.auth("admin").token()  # every route is reachable
    run = subprocess.run(
        [
            str(cli),
            "--config-file",
            str(_schemathesis_config(tmp_path / "schemathesis.toml")),
            "run",
            f"{full_stack.gateway_url}/openapi.json",
            "--header",
            f"Authorization: Bearer {token}",
            "--exclude-path",
            "/api/v1/datasets/storage/compact",
            "--exclude-path",
            "/api/v1/auth/keys/rotate",
            "--exclude-path",
            "/api/v1/users/{username}",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            "10",
            "--seed",
            "1",
            # One worker: with two threads CPython 3.11's ast module can race inside
            # hypothesis' lambda introspection ("AST constructor recursion depth mismatch").
            "--workers",
            "1",
            "--request-timeout",
            "60",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
