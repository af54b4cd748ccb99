"""``python -m sextant_quant``: run the quant service."""

from sextant_common.logging_setup import configure_logging
from sextant_common.service import serve
from sextant_quant.app import build_app
from sextant_quant.settings import QuantSettings

if __name__ == "__main__":
    configure_logging()  # before the settings are read, so even a bad variable is one JSON line
    settings = QuantSettings()
    serve(settings, lambda: build_app(settings), host=settings.quant_host, port=settings.quant_port)
