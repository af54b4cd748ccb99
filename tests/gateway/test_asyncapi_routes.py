"""The gateway serves the bus's AsyncAPI document (JSON and a page), outside its OpenAPI."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from sextant_common.asyncapi import build_document
from sextant_common.channels import CHANNELS
from sextant_gateway.api.routes.asyncapi import build_router
from sextant_gateway.app import build_app
from sextant_gateway.settings import GatewaySettings


def test_the_gateway_serves_the_document_and_a_page_outside_openapi() -> None:
    app = build_app(GatewaySettings(kafka_bootstrap="kafka.example:9092"))
    client = TestClient(app)  # no lifespan: no broker needed
    answer = client.get("/asyncapi.json")
    assert answer.status_code == 200
    assert answer.json() == build_document("kafka.example:9092")
    page = client.get("/asyncapi")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for channel in CHANNELS:
        assert f"<code>{channel.topic}</code>" in page.text
    unconsumed = [channel for channel in CHANNELS if not channel.consumers]
    assert ("none yet" in page.text) == bool(unconsumed)  # a topic nobody keeps is called out
    assert "http" not in page.text.replace("href='/asyncapi.json'", "")  # offline: no CDN
    hidden = FastAPI()
    hidden.include_router(build_router("x:1"))
    assert hidden.openapi()["paths"] == {}
