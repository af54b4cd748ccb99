"""Pieces the provider modules share: credentials, query validation, Bar-or-Reject, dates.

Nothing here is a provider; the helpers only factor out what several ``providers/*.py`` wrote
the same way. Each provider module still owns its ``PROVIDER``, ``FETCHERS``, fetcher classes
and ``SEXTANT_*`` constants (the fetching registry scans the modules for those).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from pydantic import SecretStr, ValidationError

from sextant_common.events import AssetClass, Bar, Interval
from sextant_ingest.providers.errors import MissingCredentials
from sextant_ingest.providers.fetcher import Fetcher, Q, R, Reject, Transformed
from sextant_ingest.providers.http import utc_now

Credentials = Mapping[str, SecretStr | str]


def secret_value(credentials: Credentials, variable: str) -> str | None:
    """The non-empty value of ``variable`` in ``credentials``, unwrapped, or None."""
    value = credentials.get(variable)
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value or None


def require_secret(credentials: Credentials, variable: str, provider: str) -> str:
    """The value of ``variable``; MissingCredentials (naming it) when absent or empty."""
    value = secret_value(credentials, variable)
    if value is None:
        raise MissingCredentials(provider, variable)
    return value


def validation_reason(exc: ValidationError, default: str = "bar") -> str:
    """Every error of ``exc`` as ``loc: msg`` joined by ``; `` (``default`` for an empty loc)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or default}: {e['msg']}" for e in exc.errors()
    )


def error_message(exc: Exception) -> str:
    """A Reject reason: the first message of a ValidationError, else the exception's text."""
    return str(exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else exc)


def utc_midnight(day: date) -> datetime:
    """00:00 UTC of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def bar_or_reject(
    raw: Any,
    *,
    instrument_id: str,
    asset_class: AssetClass,
    interval: Interval,
    ts_event: datetime,
    ohlcv: Sequence[Any],
    source: str,
    ts_known: datetime,
) -> Bar | Reject:
    """A Bar of the fields (``ohlcv``: open, high, low, close, volume), or a Reject of ``raw``
    saying which fields are invalid."""
    open_, high, low, close, volume = ohlcv
    try:
        return Bar(
            instrument_id=instrument_id,
            asset_class=asset_class,
            interval=interval,
            ts_event=ts_event,
            open=open_,
            high=high,
            low=low,
            close=close,
            volume=volume,
            source=source,
            ts_known=ts_known,
        )
    except ValidationError as exc:
        return Reject(validation_reason(exc), raw, key=instrument_id)


def check_bar_query(
    query: Any, *, asset_class: AssetClass, intervals: Iterable[Interval], provider: str
) -> None:
    """ValueErrors naming the field of a bar query (``start``, ``end``, ``asset_class``,
    ``interval`` attributes) whose range is empty, whose asset class is not ``asset_class`` or
    whose interval is not one of ``intervals``."""
    if query.end <= query.start:
        raise ValueError(f"end ({query.end}) must be after start ({query.start})")
    if query.asset_class is not asset_class:
        raise ValueError(f"asset_class must be {asset_class.value}, got {query.asset_class.value}")
    if query.interval not in intervals:
        served = ", ".join(i.value for i in intervals)
        raise ValueError(f"interval {query.interval.value!r}: {provider} serves {served}")


def collect(items: Iterable[R | Reject | None]) -> Transformed[R]:
    """Records and Rejects of ``items`` in order; None (a skipped row) is dropped."""
    records: list[R] = []
    rejects: list[Reject] = []
    for item in items:
        if isinstance(item, Reject):
            rejects.append(item)
        elif item is not None:
            records.append(item)
    return Transformed(records, rejects)


class ModelFetcher(Fetcher[Q, R]):
    """A fetcher whose ``transform_query`` validates ``params`` with ``query_model``."""

    query_model: type[Q]

    def transform_query(self, params: Mapping[str, Any]) -> Q:
        """Validate ``params`` with ``query_model`` (its ValidationError, a ValueError, names
        the field)."""
        return self.query_model.model_validate(dict(params))


class KeyedFetcher(ModelFetcher[Q, R]):
    """A fetcher built as ``cls(credentials, clock=...)`` reading one API key.

    Credentials are kept as SecretStr and the repr names only the variables, so a key never
    shows in a repr, a log line or an exception text.
    """

    api_key_variable: str

    def __init__(
        self,
        credentials: Credentials | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._credentials = {k: SecretStr(str(v)) for k, v in (credentials or {}).items()}
        self._clock = clock

    def __repr__(self) -> str:
        return f"{type(self).__name__}(credentials={sorted(self._credentials)})"

    def _api_key(self) -> str:
        """The key; MissingCredentials when it is not configured."""
        return require_secret(self._credentials, self.api_key_variable, self.provider.name)
