"""Sextant shared contracts: settings, topics + event models, broker factory, telemetry."""
