"""The bus's AsyncAPI document: ``/asyncapi.json`` and a readable ``/asyncapi`` page.

Both come from :func:`sextant_common.asyncapi.build_document` (the channel declarations), with
this deployment's bootstrap address as the server variable's default. They describe Kafka
topics, not HTTP routes, so they stay out of the OpenAPI document.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse

from sextant_common.asyncapi import build_document

_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #1d232a; }
table { border-collapse: collapse; width: 100%; margin: 1rem 0 2rem; }
th, td { border: 1px solid #c9d1d9; padding: .35rem .55rem; text-align: left; vertical-align: top; }
th { background: #eef1f4; }
code { font: 13px ui-monospace, monospace; }
td.none { color: #9a6700; }
"""


def build_router(bootstrap: str) -> APIRouter:
    """Routes serving the document for a bus reachable at ``bootstrap``."""
    document = build_document(bootstrap)
    page = render_page(document)
    router = APIRouter(include_in_schema=False)

    @router.get("/asyncapi.json")
    def asyncapi_json() -> JSONResponse:
        return JSONResponse(document)

    @router.get("/asyncapi")
    def asyncapi_page() -> HTMLResponse:
        return HTMLResponse(page)

    return router


def render_page(document: dict[str, Any]) -> str:
    """One HTML page: the encoding rules, then a table of the channels and their messages."""
    messages = document["components"]["messages"]
    schemas = document["components"]["schemas"]
    by_channel: dict[str, dict[str, list[str]]] = {}
    for operation in document["operations"].values():
        cid = operation["channel"]["$ref"].rsplit("/", 1)[-1]
        side = by_channel.setdefault(cid, {"send": [], "receive": []})
        side[operation["action"]].append(operation["tags"][0]["name"])
    rows = []
    for cid, channel in document["channels"].items():
        (name,) = channel["messages"]
        message = messages[name]
        fields = schemas[name]["properties"]
        required = set(schemas[name].get("required", ()))
        field_list = ", ".join(
            f"<code>{escape(f)}</code>{'' if f in required else '?'}" for f in fields
        )
        sides = by_channel.get(cid, {"send": [], "receive": []})
        consumers = ", ".join(sides["receive"])
        kafka = channel["bindings"]["kafka"]
        rows.append(
            "<tr>"
            f"<td><code>{escape(channel['address'])}</code></td>"
            f"<td><b>{escape(name)}</b>: {escape(message['summary'])}<br>{field_list}</td>"
            f"<td>{escape(message['bindings']['kafka']['key']['description'])}</td>"
            f"<td>{kafka['partitions']}</td>"
            f"<td>{kafka['topicConfiguration']['retention.ms'] // 86_400_000} d</td>"
            f"<td>{escape(', '.join(sides['send']))}</td>"
            f"<td class='{'' if consumers else 'none'}'>{escape(consumers or 'none yet')}</td>"
            "</tr>"
        )
    info = document["info"]
    bootstrap = document["servers"]["kafka"]["variables"]["bootstrap"]["default"]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(info['title'])}: AsyncAPI</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(info['title'])} <small>AsyncAPI {escape(document['asyncapi'])}</small></h1>"
        f"<p>{'</p><p>'.join(escape(p) for p in info['description'].split(chr(10) * 2))}</p>"
        f"<p>Bootstrap: <code>{escape(bootstrap)}"
        "</code>. The full document (payload JSON schemas, key schemas, headers): "
        "<a href='/asyncapi.json'>/asyncapi.json</a>.</p>"
        "<table><thead><tr><th>Topic</th><th>Value (fields; ? = optional)</th><th>Key</th>"
        "<th>Partitions</th><th>Retention</th><th>Producers</th><th>Consumers</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></body></html>"
    )
