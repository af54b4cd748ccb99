"""Sextant quant engine: pure numerical libraries (no I/O) and the service around them."""
