"""`.env.example` lists every SEXTANT_ variable a service reads (settings are the only readers)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from sextant_datasets.settings import DatasetsSettings
from sextant_gateway.settings import GatewaySettings
from sextant_ingest.settings import IngestSettings
from sextant_quant.settings import QuantSettings

ENV_EXAMPLE = (Path(__file__).resolve().parents[2] / ".env.example").read_text()


@pytest.mark.parametrize(
    "settings", [DatasetsSettings, GatewaySettings, IngestSettings, QuantSettings]
)
def test_every_setting_is_documented(settings: type[BaseSettings]) -> None:
    missing = [
        f"SEXTANT_{name.upper()}"
        for name in settings.model_fields
        if f"SEXTANT_{name.upper()}" not in ENV_EXAMPLE
    ]
    assert not missing, f"add to .env.example: {missing}"
