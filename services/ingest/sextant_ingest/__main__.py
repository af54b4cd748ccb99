"""``python -m sextant_ingest``: run the ingest worker."""

from sextant_common.logging_setup import configure_logging
from sextant_common.service import serve
from sextant_ingest.app import build_app
from sextant_ingest.settings import IngestSettings

if __name__ == "__main__":
    configure_logging()  # before the settings are read, so even a bad variable is one JSON line
    settings = IngestSettings()
    serve(
        settings, lambda: build_app(settings), host=settings.ingest_host, port=settings.ingest_port
    )
