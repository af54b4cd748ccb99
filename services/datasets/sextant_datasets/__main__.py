"""``python -m sextant_datasets``: run the datasets service."""

from sextant_common.logging_setup import configure_logging
from sextant_common.service import serve
from sextant_datasets.app import build_app
from sextant_datasets.settings import DatasetsSettings

if __name__ == "__main__":
    configure_logging()  # before the settings are read, so even a bad variable is one JSON line
    settings = DatasetsSettings()
    serve(
        settings,
        lambda: build_app(settings),
        host=settings.datasets_host,
        port=settings.datasets_port,
    )
