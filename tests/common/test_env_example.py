"""`.env.example` lists every SEXTANT_ variable a service reads (settings are the only readers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from sextant_common.kafka_security import KafkaSecuritySettings
from sextant_datasets.settings import DatasetsSettings
from sextant_gateway.quotas import QuotaSettings
from sextant_gateway.settings import GatewaySettings
from sextant_ingest.settings import IngestSettings
from sextant_quant.settings import QuantSettings

ENV_EXAMPLE = (Path(__file__).resolve().parents[2] / ".env.example").read_text()


@pytest.mark.parametrize(
    "settings",
    [
        DatasetsSettings,
        GatewaySettings,
        IngestSettings,
        QuantSettings,
        KafkaSecuritySettings,
        QuotaSettings,
    ],
)
def test_every_setting_is_documented(settings: type[BaseSettings]) -> None:
    prefix = str(settings.model_config.get("env_prefix", "SEXTANT_"))
    names = [f"{prefix}{name}".upper() for name in settings.model_fields]
    missing = [name for name in names if name not in ENV_EXAMPLE]
    assert not missing, f"add to .env.example: {missing}"
