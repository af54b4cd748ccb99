"""The auth database: users, refresh-token families and signing keys (SQLite or Postgres).

SQLAlchemy Core with a synchronous engine: the gateway calls it only to sign in, refresh, manage
users and load keys (never per request), through ``asyncio.to_thread``. Every replica of the
gateway shares one database, so a refresh token spent on one replica is spent on all, and a key
rotated on one is loaded by the others when they first meet its ``kid``.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from sextant_gateway.auth.policy import Role

metadata = sa.MetaData()

users = sa.Table(
    "users",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.Float, nullable=False),
)

refresh_tokens = sa.Table(
    "refresh_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("family", sa.String(32), nullable=False, index=True),
    sa.Column("username", sa.String(64), nullable=False, index=True),
    sa.Column("issued_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("used_at", sa.Float),
    sa.Column("revoked_at", sa.Float),
)

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("kid", sa.String(32), primary_key=True),
    sa.Column("private_pem", sa.Text, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("retired_at", sa.Float),
)


class RefreshRefused(Exception):
    """A refresh token that cannot be spent; ``reason`` says why (for logs and metrics)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class User:
    """A user as stored (the password hash stays in the store)."""

    username: str
    role: Role
    disabled: bool
    created_at: float


@dataclass(frozen=True)
class SigningKey:
    """An RSA private key in PEM and its id; ``retired_at`` set once it no longer verifies."""

    kid: str
    private_pem: str
    created_at: float
    retired_at: float | None


def engine_for(url: str | None, data_dir: Path) -> Engine:
    """An engine on ``url`` (``postgresql://`` uses psycopg 3), or SQLite under ``data_dir``."""
    if url is None:
        data_dir.mkdir(parents=True, exist_ok=True)
        return sa.create_engine(f"sqlite:///{data_dir / 'auth.db'}")
    if url.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    return sa.create_engine(url, pool_pre_ping=True)


def token_hash(token: str) -> str:
    """How a refresh token is stored: its SHA-256 (the token itself is never kept)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _user(row: sa.Row[tuple[object, ...]]) -> User:
    return User(row.username, Role.parse(row.role), bool(row.disabled), row.created_at)


class AuthStore:
    """Queries and updates of the auth tables."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # users -------------------------------------------------------------------------------

    def create_user(self, username: str, password_hash: str, role: Role) -> User:
        """Add a user; ValueError if the name is taken."""
        now = time.time()
        try:
            with self._tx() as conn:
                conn.execute(
                    users.insert().values(
                        username=username,
                        password_hash=password_hash,
                        role=role.name,
                        disabled=False,
                        created_at=now,
                    )
                )
        except sa.exc.IntegrityError:
            raise ValueError(f"user {username!r} exists") from None
        return User(username, role, False, now)

    def user(self, username: str) -> User | None:
        """The user called ``username``, if any."""
        with self._tx() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username)).first()
        return None if row is None else _user(row)

    def password_hash(self, username: str) -> tuple[User, str] | None:
        """The user and their password hash, for signing in."""
        with self._tx() as conn:
            row = conn.execute(sa.select(users).where(users.c.username == username)).first()
        return None if row is None else (_user(row), row.password_hash)

    def list_users(self) -> list[User]:
        """Every user, by name."""
        with self._tx() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.username)).all()
        return [_user(r) for r in rows]

    def count_users(self) -> int:
        """How many users exist (``make run`` creates a first admin when none does)."""
        with self._tx() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(users)).scalar_one())

    def update_user(
        self,
        username: str,
        *,
        role: Role | None = None,
        disabled: bool | None = None,
        password_hash: str | None = None,
    ) -> User | None:
        """Change a user; a disabled user or a new password also ends every session (refresh
        families). None if there is no such user. ValueError if it would leave no active admin."""
        values: dict[str, object] = {}
        if role is not None:
            values["role"] = role.name
        if disabled is not None:
            values["disabled"] = disabled
        if password_hash is not None:
            values["password_hash"] = password_hash
        with self._tx() as conn:
            if conn.execute(sa.select(users).where(users.c.username == username)).first() is None:
                return None
            if values:
                conn.execute(users.update().where(users.c.username == username).values(**values))
            self._keep_an_admin(conn)
            if disabled or password_hash is not None:
                self._revoke_user(conn, username)
            row = conn.execute(sa.select(users).where(users.c.username == username)).one()
        return _user(row)

    def delete_user(self, username: str) -> bool:
        """Remove a user and their sessions; False if there is none. ValueError if it would
        leave no active admin."""
        with self._tx() as conn:
            deleted = conn.execute(users.delete().where(users.c.username == username)).rowcount
            self._keep_an_admin(conn)
            self._revoke_user(conn, username)
        return bool(deleted)

    @staticmethod
    def _keep_an_admin(conn: Connection) -> None:
        active_admins = conn.execute(
            sa.select(sa.func.count())
            .select_from(users)
            .where(users.c.role == Role.admin.name, users.c.disabled == sa.false())
        ).scalar_one()
        if active_admins == 0:  # rolls the transaction back
            raise ValueError("refused: this would leave no active admin")

    @staticmethod
    def _revoke_user(conn: Connection, username: str) -> None:
        conn.execute(
            refresh_tokens.update()
            .where(refresh_tokens.c.username == username, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=time.time())
        )

    # refresh tokens ----------------------------------------------------------------------

    def issue_refresh(self, username: str, ttl_s: float, family: str | None = None) -> str:
        """A new refresh token for ``username`` in ``family`` (a new family: a new sign-in)."""
        token = secrets.token_urlsafe(32)
        now = time.time()
        with self._tx() as conn:
            conn.execute(
                refresh_tokens.insert().values(
                    token_hash=token_hash(token),
                    family=family or secrets.token_hex(16),
                    username=username,
                    issued_at=now,
                    expires_at=now + ttl_s,
                )
            )
        return token

    def spend_refresh(self, token: str, ttl_s: float) -> tuple[User, str]:
        """Spend ``token`` and return its user with the family's next token.

        Raises :class:`RefreshRefused`: unknown, expired, revoked, or already spent. A spent
        token presented again means it leaked (the legitimate holder or the thief already used
        it): the whole family is revoked, so neither can go on.
        """
        hashed = token_hash(token)
        now = time.time()
        with self._tx() as conn:
            spent = conn.execute(
                refresh_tokens.update()
                .where(
                    refresh_tokens.c.token_hash == hashed,
                    refresh_tokens.c.used_at.is_(None),
                    refresh_tokens.c.revoked_at.is_(None),
                    refresh_tokens.c.expires_at > now,
                )
                .values(used_at=now)
            ).rowcount
            row = conn.execute(
                sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == hashed)
            ).first()
            if row is None:
                raise RefreshRefused("unknown refresh token")
            if not spent:
                if row.revoked_at is not None:
                    raise RefreshRefused("refresh token revoked")
                if row.used_at is not None:
                    self._revoke_family(conn, row.family, now)
                    refused = RefreshRefused("refresh token reused: its session is revoked")
                else:
                    refused = RefreshRefused("refresh token expired")
            else:
                account = conn.execute(
                    sa.select(users).where(users.c.username == row.username)
                ).first()
                if account is not None and not account.disabled:
                    user = _user(account)
                    next_token = secrets.token_urlsafe(32)
                    conn.execute(
                        refresh_tokens.insert().values(
                            token_hash=token_hash(next_token),
                            family=row.family,
                            username=row.username,
                            issued_at=now,
                            expires_at=now + ttl_s,
                        )
                    )
                    return user, next_token
                self._revoke_family(conn, row.family, now)
                refused = RefreshRefused("the user is disabled or removed")
        raise refused  # after the commit: the revocation stays

    def revoke_family_of(self, token: str) -> bool:
        """Sign out: revoke the family ``token`` belongs to; False for an unknown token."""
        with self._tx() as conn:
            row = conn.execute(
                sa.select(refresh_tokens.c.family).where(
                    refresh_tokens.c.token_hash == token_hash(token)
                )
            ).first()
            if row is None:
                return False
            self._revoke_family(conn, row.family, time.time())
        return True

    @staticmethod
    def _revoke_family(conn: Connection, family: str, now: float) -> None:
        conn.execute(
            refresh_tokens.update()
            .where(refresh_tokens.c.family == family, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    # signing keys ------------------------------------------------------------------------

    def add_key(self, kid: str, private_pem: str) -> None:
        """Store a new signing key (the newest one signs)."""
        with self._tx() as conn:
            conn.execute(
                signing_keys.insert().values(
                    kid=kid, private_pem=private_pem, created_at=time.time()
                )
            )

    def signing_keys(self) -> list[SigningKey]:
        """Keys that still verify, oldest first."""
        with self._tx() as conn:
            rows = conn.execute(
                sa.select(signing_keys)
                .where(signing_keys.c.retired_at.is_(None))
                .order_by(signing_keys.c.created_at)
            ).all()
        return [SigningKey(r.kid, r.private_pem, r.created_at, r.retired_at) for r in rows]

    def retire_keys_superseded_before(self, cutoff: float) -> list[str]:
        """Retire every key that a newer key replaced before ``cutoff`` (epoch s): no token it
        signed can still be valid. The newest key is never retired. Returns their kids."""
        live = self.signing_keys()
        retired = [
            older.kid for older, newer in itertools.pairwise(live) if newer.created_at < cutoff
        ]
        if retired:
            with self._tx() as conn:
                conn.execute(
                    signing_keys.update()
                    .where(signing_keys.c.kid.in_(retired))
                    .values(retired_at=time.time())
                )
        return retired
