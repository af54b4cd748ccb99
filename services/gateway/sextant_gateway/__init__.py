"""Sextant gateway: the only public entry point (REST, WebSocket, the web terminal)."""
