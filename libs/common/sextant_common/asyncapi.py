"""The bus as an AsyncAPI 3.0 document, built from :data:`sextant_common.channels.CHANNELS`.

Enough for a client that shares no code with Sextant (librdkafka, Java, Go) to read any topic:
the address, how the key and the value are encoded, the JSON schema of the value, partitions,
retention, headers, and which service sends and receives it. The gateway serves it at
``/asyncapi.json``; ``docs/asyncapi.json`` is the checked-in copy, regenerated with
``.venv/bin/python -m sextant_common.asyncapi > docs/asyncapi.json``.

Why not FastStream's generator: it makes one channel per FastStream publisher or subscriber (the
shared bus pieces are aiokafka inside, so every topic would be missing), has no Kafka key binding
and names no service; here every declared topic is one channel with its operations.
"""

from __future__ import annotations

import json
import sys
from typing import Any, Final

from pydantic.json_schema import models_json_schema

from sextant_common import tracecontext
from sextant_common.channels import CHANNELS, DAY_MS, Channel
from sextant_common.events import DLQ_HEADER_PREFIX, DeadLetter
from sextant_common.producer import EVENT_TYPE_HEADER, SCHEMA_VERSION_HEADER

ASYNCAPI_VERSION: Final = "3.0.0"
DOCUMENT_VERSION: Final = "1.0.0"
DEFAULT_BOOTSTRAP: Final = "127.0.0.1:9092"
KAFKA_BINDING_VERSION: Final = "0.5.0"
SCHEMA_REF: Final = "#/components/schemas/{model}"

ENCODING: Final = (
    "Values are UTF-8 JSON objects, one per record, with no schema-registry framing (no magic "
    "byte) and no envelope: the object is the event, valid against the message's payload schema. "
    "Timestamps are ISO 8601 strings in UTC; numbers are JSON numbers (never NaN or Infinity). "
    "Record batches are LZ4-compressed (Kafka clients decompress them transparently). "
    "Keys are the UTF-8 bytes of a string named per channel (no JSON quotes). Partitions follow "
    "Kafka's default partitioner (murmur2 of the key), so one key stays ordered in one partition. "
    "Every record carries the headers its message declares (UTF-8 text values): the event type, "
    "the schema version and W3C trace context; a reader may ignore headers it does not know."
)

EVENT_HEADERS: Final[dict[str, Any]] = {
    "type": "object",
    "description": "Header values are bytes; these are UTF-8 text.",
    "properties": {
        EVENT_TYPE_HEADER: {
            "type": "string",
            "description": "the event model's name, the message's name here (e.g. Bar)",
        },
        SCHEMA_VERSION_HEADER: {
            "type": "string",
            "description": (
                "the topic's version, decimal (1 for md.bars.v1): a schema changes only with a "
                "new topic version"
            ),
        },
        tracecontext.HEADER: {
            "type": "string",
            "description": "W3C trace context of the publish: 00-<trace id>-<span id>-<flags>",
        },
    },
    "required": [EVENT_TYPE_HEADER, SCHEMA_VERSION_HEADER, tracecontext.HEADER],
    "additionalProperties": True,
}

DLQ_HEADERS: Final[dict[str, Any]] = {
    "type": "object",
    "description": (
        "Header values are bytes; these are UTF-8 text. The original record's headers come "
        f"first, unchanged and in order, then the `{DLQ_HEADER_PREFIX}*` ones."
    ),
    "properties": {
        f"{DLQ_HEADER_PREFIX}topic": {"type": "string", "description": "topic it was read from"},
        f"{DLQ_HEADER_PREFIX}partition": {
            "type": "string",
            "description": "its partition, decimal (-1: never on the bus)",
        },
        f"{DLQ_HEADER_PREFIX}offset": {
            "type": "string",
            "description": "its offset, decimal (-1: never on the bus)",
        },
        f"{DLQ_HEADER_PREFIX}consumer": {"type": "string", "description": "who rejected it"},
        f"{DLQ_HEADER_PREFIX}error": {
            "type": "string",
            "description": "why, cut to 1000 characters (the full text is in the value)",
        },
    },
    "additionalProperties": True,
}


def _id(topic: str) -> str:
    """An AsyncAPI identifier for ``topic`` (``md.bars.v1`` -> ``md_bars_v1``)."""
    return topic.replace(".", "_")


def _key_schema(channel: Channel, schemas: dict[str, Any]) -> dict[str, Any]:
    if channel.key_field is None:
        return {"type": "string", "format": "binary", "description": channel.key}
    field = dict(schemas[channel.title]["properties"][channel.key_field])
    field.pop("title", None)
    field["description"] = f"UTF-8 bytes of `{channel.key_field}`: {channel.key}"
    return field


def _description(channel: Channel) -> str:
    key = (
        f"UTF-8 bytes of the value's `{channel.key_field}` field: {channel.key}"
        if channel.key_field
        else channel.key
    )
    consumers = ", ".join(channel.consumers) or "none yet"
    partitions = f"{channel.partitions}"
    if channel.partitions_setting:
        partitions += f" (SEXTANT_{channel.partitions_setting.upper()} when Sextant creates it)"
    return (
        f"{channel.summary}\n\n"
        f"Value: a UTF-8 JSON object, the `{channel.title}` schema, no framing.\n"
        f"Key: {key}.\n"
        f"Partitions: {partitions}. Retention: {channel.retention_ms // DAY_MS} days.\n"
        f"Producers: {', '.join(channel.producers)}. Consumers: {consumers}."
    )


def build_document(bootstrap: str = DEFAULT_BOOTSTRAP) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every declared channel; ``bootstrap`` is the default of the
    server's ``bootstrap`` variable."""
    _, top = models_json_schema(
        [(channel.model, "validation") for channel in CHANNELS], ref_template=SCHEMA_REF
    )
    schemas: dict[str, Any] = top["$defs"]
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for channel in CHANNELS:
        cid = _id(channel.topic)
        message: dict[str, Any] = {
            "name": channel.title,
            "title": channel.title,
            "summary": channel.model.__doc__.splitlines()[0] if channel.model.__doc__ else "",
            "contentType": "application/json",
            "payload": {"$ref": SCHEMA_REF.format(model=channel.title)},
            "bindings": {
                "kafka": {
                    "key": _key_schema(channel, schemas),
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        message["headers"] = DLQ_HEADERS if channel.model is DeadLetter else EVENT_HEADERS
        messages[channel.title] = message
        channels[cid] = {
            "address": channel.topic,
            "title": channel.topic,
            "summary": channel.summary,
            "description": _description(channel),
            "servers": [{"$ref": "#/servers/kafka"}],
            "messages": {channel.title: {"$ref": f"#/components/messages/{channel.title}"}},
            "bindings": {
                "kafka": {
                    "topic": channel.topic,
                    "partitions": channel.partitions,
                    "topicConfiguration": {"retention.ms": channel.retention_ms},
                    "bindingVersion": KAFKA_BINDING_VERSION,
                }
            },
        }
        for action, services in (("send", channel.producers), ("receive", channel.consumers)):
            for service in services:
                verb = "sends to" if action == "send" else "receives from"
                operations[f"{service}_{action}_{cid}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{cid}"},
                    "title": f"{service} {verb} {channel.topic}",
                    "summary": f"Service `{service}` {verb} {channel.topic}.",
                    "tags": [{"name": service}],
                    "messages": [{"$ref": f"#/channels/{cid}/messages/{channel.title}"}],
                }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Sextant bus",
            "version": DOCUMENT_VERSION,
            "description": (
                "Every topic of Sextant's Kafka-wire bus. A breaking change to a schema is a new "
                f"topic version (md.bars.v2), never an edit.\n\n{ENCODING}"
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "kafka": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "Plaintext Kafka protocol, no authentication.",
                "variables": {
                    "bootstrap": {
                        "default": bootstrap,
                        "description": "host:port of a broker (SEXTANT_KAFKA_BOOTSTRAP)",
                    }
                },
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def render(document: dict[str, Any]) -> str:
    """``document`` as the JSON text checked into ``docs/asyncapi.json`` (trailing newline)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(build_document()))
