"""The kept dead-letter queue: every record on ``dlq.v1`` stored in SQLite, browsable through
``GET /v1/dlq`` and re-publishable, fixed, with ``python -m sextant_datasets.dlq replay``.

- :mod:`.store`: the SQLite table (one row per dead letter, idempotent on where it failed).
- :mod:`.keeper`: the ``dlq.v1`` consumer (its own group; commits after the rows are durable).
- :mod:`.replay`: re-publishing a stored record to its original topic.
"""
