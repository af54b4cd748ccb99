"""How every Kafka client of a service authenticates to the broker (``SEXTANT_KAFKA_*``).

The embedded broker (`make run`, tests) listens on 127.0.0.1 without authentication. A shared
Kafka (compose, k8s) requires SASL/SCRAM: each service logs in as its own principal, and the
broker's ACLs decide which topics it may write (deploy/compose.yml, deploy/k8s). Every client the
services build (producers, consumers, the admin client, health probes) takes
:func:`client_options` so the same code runs against both.
"""

from __future__ import annotations

import functools
import ssl
from typing import Any, Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSecuritySettings(BaseSettings):
    """The broker's listener security and this service's SASL principal."""

    model_config = SettingsConfigDict(env_prefix="SEXTANT_KAFKA_", env_file=".env", extra="ignore")

    security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    """CA bundle that signed the broker's certificate (``SSL`` and ``SASL_SSL``)."""


@functools.cache
def client_options() -> dict[str, Any]:
    """Keyword arguments for aiokafka's producer, consumer and admin client constructors.

    Raises ValueError naming the variable when SASL is asked for without a principal.
    """
    settings = KafkaSecuritySettings()
    options: dict[str, Any] = {"security_protocol": settings.security_protocol}
    if settings.security_protocol.startswith("SASL"):
        if not settings.sasl_username or settings.sasl_password is None:
            raise ValueError(
                f"SEXTANT_KAFKA_SECURITY_PROTOCOL={settings.security_protocol} needs "
                "SEXTANT_KAFKA_SASL_USERNAME and SEXTANT_KAFKA_SASL_PASSWORD"
            )
        options |= {
            "sasl_mechanism": settings.sasl_mechanism,
            "sasl_plain_username": settings.sasl_username,
            "sasl_plain_password": settings.sasl_password.get_secret_value(),
        }
    if settings.security_protocol.endswith("SSL"):
        options["ssl_context"] = ssl.create_default_context(cafile=settings.ssl_cafile)
    return options
