"""``python -m sextant_gateway``: run the gateway."""

from sextant_common.logging_setup import configure_logging
from sextant_common.service import serve
from sextant_gateway.app import build_app
from sextant_gateway.settings import GatewaySettings
from sextant_gateway.ws_protocol import bounded_protocol

if __name__ == "__main__":
    configure_logging()  # before the settings are read, so even a bad variable is one JSON line
    settings = GatewaySettings()
    serve(
        settings,
        lambda: build_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        ws=bounded_protocol(settings.ws_send_buffer_bytes),
        ws_ping_interval=settings.ws_ping_interval_seconds,
        ws_ping_timeout=settings.ws_ping_timeout_seconds,
        ws_max_size=settings.ws_max_message_bytes,
    )
