"""The channel declarations tell the truth: every topic the services use is declared, every
declared producer and consumer really uses its topic, schemas change only with a new topic
version, and every topic has a consumer (or is listed as awaiting one)."""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from sextant_common import topics
from sextant_common.channels import BY_TOPIC, CHANNELS, TOPICS, fingerprints, schema_fingerprint

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ROOT / "services"
LOCK = ROOT / "libs/common/sextant_common/channels.lock.json"
LOCK_COMMAND = ".venv/bin/python -m sextant_common.channels > " + str(LOCK.relative_to(ROOT))

TOPIC_LITERAL = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\.v\d+$")
"""A string that looks like a versioned topic name (``md.bars.v1``)."""
CONSUME_CALLS = frozenset({"AIOKafkaConsumer", "subscribe", "subscriber", "assign"})
"""Calls whose topic arguments are consumed (so is any call's ``topics=`` keyword: the shared
durable and tail consumers)."""
PRODUCE_CALLS = frozenset({"send", "send_and_wait", "send_batch", "publisher", "publish"})
DEAD_LETTER_CALLS = frozenset({"dead_letter", "dead_letters", "TailConsumer"})
"""Calls that make records for ``dlq.v1`` (a tail consumer dead-letters what its handler
refuses)."""
TOPIC_NAMES = {name: value for name, value in vars(topics).items() if name.isupper()}

# Issue 11 part 4 adds a consumer that keeps each of these (datasets for the four fetched kinds,
# a browsable DLQ). Remove a topic from here in the change that gives it a consumer.
AWAITING_CONSUMER: frozenset[str] = frozenset()


class TopicUses(ast.NodeVisitor):
    """What one module does with topics: every topic it names (by a ``topics`` constant or a
    literal), those passed to a consuming call and to a producing call, and the names it
    imports from ``sextant_common.events``."""

    def __init__(self) -> None:
        self.named: set[str] = set()
        self.unknown: set[str] = set()
        self.consumed: set[str] = set()
        self.produced: set[str] = set()
        self.event_imports: set[str] = set()
        self._aliases: dict[str, str] = {}  # names imported from sextant_common.topics

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if node.module == "sextant_common.topics":
                self._aliases[alias.asname or alias.name] = alias.name
            elif node.module == "sextant_common.events":
                self.event_imports.add(alias.asname or alias.name)

    def _topic_of(self, node: ast.AST) -> str | None:
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "topics"
        ):
            return self._resolve(node.attr)
        if isinstance(node, ast.Name) and node.id in self._aliases:
            return self._resolve(self._aliases[node.id])
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and TOPIC_LITERAL.match(node.value)
        ):
            return node.value
        return None

    def _resolve(self, constant: str) -> str:
        if constant not in TOPIC_NAMES:
            self.unknown.add(f"topics.{constant}")
            return f"topics.{constant}"
        return str(TOPIC_NAMES[constant])

    def generic_visit(self, node: ast.AST) -> None:
        topic = self._topic_of(node)
        if topic is not None:
            self.named.add(topic)
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            side = (
                self.consumed
                if name in CONSUME_CALLS
                else self.produced
                if name in PRODUCE_CALLS
                else None
            )
            if side is not None:
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    self._collect(arg, side)
            for keyword in node.keywords:
                if keyword.arg == "topics":
                    self._collect(keyword.value, self.consumed)
            if name in DEAD_LETTER_CALLS:
                self.produced.add(topics.DLQ)
        super().generic_visit(node)

    def _collect(self, node: ast.AST, side: set[str]) -> None:
        for inner in ast.walk(node):
            if (found := self._topic_of(inner)) is not None:
                side.add(found)


def uses_of(source: str) -> TopicUses:
    """The topic uses of one module's source."""
    uses = TopicUses()
    uses.visit(ast.parse(source))
    return uses


def service_uses() -> dict[str, TopicUses]:
    """Topic uses per service (``services/<name>``), every module of its package merged."""
    merged: dict[str, TopicUses] = defaultdict(TopicUses)
    for package in sorted(SERVICES.glob("*/sextant_*")):
        if package.suffix == ".egg-info" or not package.is_dir():
            continue
        total = merged[package.parent.name]
        for module in package.rglob("*.py"):
            one = uses_of(module.read_text())
            total.named |= one.named
            total.unknown |= one.unknown
            total.consumed |= one.consumed
            total.produced |= one.produced
            total.event_imports |= one.event_imports
    return dict(merged)


def test_the_scanner_sees_constants_literals_and_which_side_a_call_is_on() -> None:
    uses = uses_of(
        "from sextant_common.topics import DLQ as dead\n"
        "consumer = AIOKafkaConsumer(topics.MD_BARS, 'x.y.v3')\n"
        "await producer.send(dead, b'')\n"
        "broker.publisher(topics.NOPE)\n"
        "TailConsumer(bootstrap=b, topics=(topics.JOBS_EVENTS,), name='g', handle=h)\n"
    )
    assert uses.named == {"md.bars.v1", "x.y.v3", "dlq.v1", "topics.NOPE", "jobs.events.v1"}
    assert uses.consumed == {"md.bars.v1", "x.y.v3", "jobs.events.v1"}
    assert uses.produced == {"dlq.v1", "topics.NOPE"}
    assert uses.unknown == {"topics.NOPE"}


def test_every_topic_the_services_name_is_declared() -> None:
    uses = service_uses()
    assert set(uses) >= {"ingest", "datasets", "quant", "gateway"}, sorted(uses)
    for service, found in uses.items():
        assert not found.unknown, f"{service} uses undefined topic constants {found.unknown}"
        undeclared = found.named - set(TOPICS)
        assert not undeclared, (
            f"{service} names topics {sorted(undeclared)} that sextant_common.channels does not "
            "declare: add a Channel (and a topics.py constant) for each"
        )


def test_every_service_that_subscribes_or_sends_to_a_topic_is_declared_there() -> None:
    for service, found in service_uses().items():
        for topic in found.consumed:
            assert service in BY_TOPIC[topic].consumers, (
                f"{service} consumes {topic}: add it to that channel's consumers"
            )
        for topic in found.produced:
            assert service in BY_TOPIC[topic].producers, (
                f"{service} produces to {topic}: add it to that channel's producers"
            )


def test_every_declared_producer_and_consumer_references_its_topic() -> None:
    uses = service_uses()
    for channel in CHANNELS:
        for service in (*channel.producers, *channel.consumers):
            assert service in uses, f"{channel.topic}: no service package services/{service}"
        for service in channel.consumers:
            # Subscribing needs the topic's name: a consumer must name it.
            assert channel.topic in uses[service].named, (
                f"{channel.topic} declares consumer {service}, whose package never names it"
            )
        for service in channel.producers:
            # A producer may name the topic or send the model to ``type(record).TOPIC``.
            found = uses[service]
            assert (
                channel.topic in found.named | found.produced
                or channel.title in found.event_imports
            ), (
                f"{channel.topic} declares producer {service}, whose package names neither the "
                f"topic nor {channel.title}"
            )


def test_schemas_match_the_lock_or_the_topic_version_changed() -> None:
    locked = json.loads(LOCK.read_text())
    assert set(locked) == set(TOPICS), (
        f"{LOCK.name} lists {sorted(locked)}, declared are {sorted(TOPICS)}: run {LOCK_COMMAND}"
    )
    for channel in CHANNELS:
        fingerprint = schema_fingerprint(channel)
        next_version = re.sub(r"\d+$", lambda v: str(int(v[0]) + 1), channel.topic)
        assert locked[channel.topic]["schema_sha256"] == fingerprint, (
            f"the schema of {channel.title} (on {channel.topic}) changed. A breaking change is a "
            f"new topic version: add e.g. {next_version} next to the "
            "old one. Only for a compatible, additive change (a new optional field) refresh the "
            f"lock: {LOCK_COMMAND}"
        )
    assert locked == fingerprints()


def test_the_fingerprint_follows_the_wire_shape_not_the_prose() -> None:
    channel = BY_TOPIC[topics.MD_BARS]
    assert (
        schema_fingerprint(channel) == json.loads(LOCK.read_text())[channel.topic]["schema_sha256"]
    )

    class Renamed(channel.model):  # type: ignore[name-defined,misc]
        """Other prose, same wire shape."""

    class Widened(channel.model):  # type: ignore[name-defined,misc]
        extra_note: str = ""

    same = dataclasses.replace(channel, model=Renamed)
    changed = dataclasses.replace(channel, model=Widened)
    assert schema_fingerprint(same) == schema_fingerprint(channel)
    assert schema_fingerprint(changed) != schema_fingerprint(channel)


def test_each_topic_has_a_consumer_or_is_awaiting_one() -> None:
    unconsumed = {channel.topic for channel in CHANNELS if not channel.consumers}
    assert unconsumed == AWAITING_CONSUMER, (
        f"topics without a consumer: {sorted(unconsumed)}; awaiting one (issue 11 part 4): "
        f"{sorted(AWAITING_CONSUMER)}. A new topic needs a consumer; a topic that got one leaves "
        "AWAITING_CONSUMER"
    )


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda c: c.topic)
def test_each_declaration_is_complete(channel: object) -> None:
    from sextant_common.channels import Channel

    assert isinstance(channel, Channel)
    assert channel.producers, f"{channel.topic} has no producer"
    assert channel.partitions >= 1 and channel.retention_ms > 0
    assert channel.key_field is None or channel.key_field in channel.model.model_fields
