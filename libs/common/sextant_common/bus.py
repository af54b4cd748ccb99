"""Connecting to the Kafka-wire bus: topic bootstrap and reachability checks (publishing is
:mod:`sextant_common.producer`, consuming :mod:`sextant_common.durable_consumer` and
:mod:`sextant_common.tail_consumer`).

The same code talks to the embedded tansu broker and to a production Kafka cluster; only
``SEXTANT_KAFKA_BOOTSTRAP`` changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from sextant_common import kafka_security
from sextant_common.channels import CHANNELS, TOPICS
from sextant_common.settings import CommonSettings

log = logging.getLogger(__name__)


class BrokerUnreachable(RuntimeError):
    """The Kafka bootstrap address did not answer."""


async def ensure_topics(settings: CommonSettings) -> dict[str, int]:
    """Create the declared topics (:data:`sextant_common.channels.CHANNELS`) that do not exist
    yet, with their partitions and ``retention.ms`` (idempotent); return partition counts.
    An existing topic is left as it is.

    Raises :class:`BrokerUnreachable` naming the address when no broker answers within
    ``settings.broker_connect_timeout_s``.
    """
    bootstrap = settings.require_bootstrap()
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, **kafka_security.client_options()
    )
    await _start_or_fail(admin, bootstrap, settings.broker_connect_timeout_s)
    try:
        existing = set(await admin.list_topics())
        new = [
            NewTopic(
                channel.topic,
                num_partitions=channel.partitions_for(settings),
                replication_factor=1,
                topic_configs={"retention.ms": str(channel.retention_ms)},
            )
            for channel in CHANNELS
            if channel.topic not in existing
        ]
        if new:
            # Another service may create them between our list and create: that is fine.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
            log.info("created topics %s", [t.name for t in new])
        described = await admin.describe_topics(list(TOPICS))
        return {t["topic"]: len(t["partitions"]) for t in described}
    finally:
        await admin.close()


async def _start_or_fail(admin: AIOKafkaAdminClient, bootstrap: str, timeout_s: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        try:
            await admin.start()
            return
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise BrokerUnreachable(
                    f"Kafka broker unreachable at {bootstrap} ({exc.__class__.__name__}); "
                    "check SEXTANT_KAFKA_BOOTSTRAP"
                ) from None
            await asyncio.sleep(0.5)
