"""``python -m sextant_gateway``: run the gateway."""

from sextant_common.service import serve
from sextant_gateway.app import build_app
from sextant_gateway.settings import GatewaySettings

if __name__ == "__main__":
    settings = GatewaySettings()
    serve(
        settings,
        lambda: build_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
    )
