"""``python -m sextant_datasets.dlq``: list and replay kept dead letters.

    python -m sextant_datasets.dlq list [--topic md.bars.v1] [--limit 20]
    python -m sextant_datasets.dlq replay --id 3f2a... [--value-file fixed.json] [--note "..."]

Reads ``SEXTANT_DATA_DIR`` and ``SEXTANT_KAFKA_BOOTSTRAP`` like the datasets service; the store
may be open in a running service at the same time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from sextant_datasets.dlq.replay import ReplayRefused, replay
from sextant_datasets.dlq.store import DeadLetterStore, UnknownLetter
from sextant_datasets.settings import DatasetsSettings


def main(argv: list[str] | None = None) -> int:
    """Run the command in ``argv``; return the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m sextant_datasets.dlq")
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="the newest dead letters, one JSON line each")
    listing.add_argument("--topic")
    listing.add_argument("--limit", type=int, default=20)
    again = commands.add_parser("replay", help="re-publish a dead letter to its original topic")
    again.add_argument("--id", required=True, help="the letter's id (GET /api/v1/dlq)")
    again.add_argument(
        "--value-file", type=Path, help="the fixed value to publish instead of the raw one"
    )
    again.add_argument("--note", help="why, kept with the letter")
    again.add_argument(
        "--force", action="store_true", help="publish even if the topic's model rejects it"
    )
    args = parser.parse_args(argv)
    settings = DatasetsSettings()
    store = DeadLetterStore(settings.dlq_path)
    if args.command == "list":
        for stored in store.page(topic=args.topic, limit=args.limit).letters:
            line = {"id": stored.id, "reason": stored.reason, "replayed_to": stored.replayed_to}
            line |= stored.letter.model_dump(mode="json", include={"topic", "offset", "error"})
            print(json.dumps(line))
        return 0
    value = args.value_file.read_bytes() if args.value_file is not None else None
    try:
        sent = asyncio.run(
            replay(
                store,
                settings.require_bootstrap(),
                args.id,
                value=value,
                note=args.note,
                force=args.force,
            )
        )
    except UnknownLetter:
        print(f"no dead letter {args.id!r} is stored in {store.path}", file=sys.stderr)
        return 2
    except ReplayRefused as exc:
        print(str(exc), file=sys.stderr)
        return 3
    print(f"replayed {args.id} as {sent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
