"""Provider keys: reading a secrets file, and keeping key values out of everything we write.

Keys are held as :class:`pydantic.SecretStr` (their repr is ``'**********'``) and revealed only
when a request is built. :class:`Redactor` scrubs key values from any text the fetcher logs,
audits or dead-letters, in case a provider echoes a key back in an error body.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from pathlib import Path

from pydantic import SecretStr

_cache: dict[Path, tuple[float, dict[str, SecretStr]]] = {}


def read_secrets_file(path: Path) -> dict[str, SecretStr]:
    """Keys of a JSON object file or a ``KEY=VALUE`` file (``#`` comments, optional ``export``
    and quotes). A missing file has no keys. Re-read only when the file changes."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return {}
    cached = _cache.get(path)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    text = path.read_text(encoding="utf-8")
    values = _parse_json(path, text) if text.lstrip().startswith("{") else _parse_dotenv(text)
    secrets = {key: SecretStr(value) for key, value in values.items() if value}
    _cache[path] = (mtime, secrets)
    return secrets


def _parse_json(path: Path, text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"secrets file {path} is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ValueError(f"secrets file {path} must hold a JSON object of KEY: value")
    return {str(key): str(value) for key, value in data.items() if value is not None}


def _parse_dotenv(text: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


class Redactor:
    """Replaces known secret values with ``***`` in text."""

    def __init__(self) -> None:
        self._values: set[str] = set()

    def add(self, secrets: Iterable[SecretStr]) -> None:
        """Remember more values to scrub (short values are ignored: they would scrub noise).

        They are scrubbed from httpx's own request log too, which prints full URLs and so any
        key a provider sends as a query parameter."""
        for secret in secrets:
            value = secret.get_secret_value()
            if len(value) >= 4:
                self._values.add(value)
                _HTTP_LOG_FILTER.values.add(value)

    def __call__(self, text: str) -> str:
        for value in self._values:
            if value in text:
                text = text.replace(value, "***")
        return text

    def scrub_bytes(self, raw: bytes) -> bytes:
        """:meth:`__call__` for bytes."""
        for value in self._values:
            encoded = value.encode()
            if encoded in raw:
                raw = raw.replace(encoded, b"***")
        return raw


class _ScrubFilter(logging.Filter):
    """Scrubs secret values from the records of the loggers it is attached to."""

    def __init__(self) -> None:
        super().__init__()
        self.values: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.values:
            message = record.getMessage()
            scrubbed = message
            for value in self.values:
                scrubbed = scrubbed.replace(value, "***")
            if scrubbed != message:
                record.msg, record.args = scrubbed, ()
        return True


_HTTP_LOG_FILTER = _ScrubFilter()
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_HTTP_LOG_FILTER)
