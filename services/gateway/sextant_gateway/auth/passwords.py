"""Password hashing (argon2id with argon2-cffi's defaults: 3 passes over 64 MiB, ~50 ms here)
and the rules a new password and user name must meet."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_CHARS = 12
MAX_PASSWORD_CHARS = 1_024
"""Longer input is refused before hashing: hashing is deliberately costly."""
USERNAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
"""A user name (for schemas); checked here with ``re.fullmatch`` (Python's ``$`` also matches
before a final newline)."""

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone")
"""Checked against when the user does not exist, so a wrong name costs as long as a wrong
password and the answer time does not tell which names exist."""


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (ValueError if it breaks :func:`check_password_rules`)."""
    check_password_rules(password)
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether ``password`` matches ``password_hash`` (None: no such user; still costs a check)."""
    if len(password) > MAX_PASSWORD_CHARS:
        return False
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def check_password_rules(password: str) -> None:
    """ValueError naming the rule a new password breaks."""
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise ValueError(
            f"password: must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        )


def valid_username(username: str) -> bool:
    """Whether ``username`` is 1-64 letters, digits or ``._@-``, starting with a letter/digit."""
    return re.fullmatch(USERNAME_PATTERN.strip("^$"), username) is not None


def check_username(username: str) -> None:
    """ValueError unless ``username`` is 1-64 characters of letters, digits and ``._@-``."""
    if not valid_username(username):
        raise ValueError(
            "username: 1 to 64 letters, digits or . _ @ - (starting with a letter or digit)"
        )
