"""Sextant ingest: providers turn queries into normalized events published on Kafka topics."""
