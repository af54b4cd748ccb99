"""The gateway's auth: the store and the key ring built from the settings, and the operations
the routes and the ``sextant`` command share (sign in, refresh, users)."""

from __future__ import annotations

from dataclasses import dataclass

from sextant_gateway.auth import passwords
from sextant_gateway.auth.policy import Role
from sextant_gateway.auth.store import AuthStore, User, engine_for
from sextant_gateway.auth.tokens import KeyRing
from sextant_gateway.settings import GatewaySettings


class SignInRefused(Exception):
    """Wrong user name or password, or a disabled user (one message for all three)."""


@dataclass(frozen=True)
class Session:
    """What a sign-in or a refresh hands out."""

    user: User
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int


class Auth:
    """Users, sessions and keys of one gateway (replicas share the database)."""

    def __init__(self, settings: GatewaySettings) -> None:
        url = settings.auth_database_url
        self.store = AuthStore(
            engine_for(None if url is None else url.get_secret_value(), settings.data_dir)
        )
        self.refresh_ttl_s = settings.auth_refresh_ttl_seconds
        self.keys = KeyRing(
            self.store,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            ttl_s=settings.auth_access_ttl_seconds,
        )

    def sign_in(self, username: str, password: str) -> Session:
        """A new session (a new refresh family); :class:`SignInRefused` otherwise."""
        well_formed = passwords.valid_username(username)
        found = self.store.password_hash(username) if well_formed else None
        user, stored = found if found is not None else (None, None)
        if not passwords.verify_password(password, stored) or user is None or user.disabled:
            raise SignInRefused("incorrect username or password")
        return self._session(user, self.store.issue_refresh(username, self.refresh_ttl_s))

    def refresh(self, refresh_token: str) -> Session:
        """Spend ``refresh_token`` for a new session of its family
        (:class:`~sextant_gateway.auth.store.RefreshRefused` otherwise)."""
        user, next_token = self.store.spend_refresh(refresh_token, self.refresh_ttl_s)
        return self._session(user, next_token)

    def _session(self, user: User, refresh_token: str) -> Session:
        access, ttl = self.keys.issue(user.username, user.role)
        return Session(user, access, ttl, refresh_token, self.refresh_ttl_s)

    def create_user(self, username: str, password: str, role: Role) -> User:
        """Add a user (ValueError naming the bad field, or a taken name)."""
        passwords.check_username(username)
        return self.store.create_user(username, passwords.hash_password(password), role)

    def close(self) -> None:
        """Release the database connections."""
        self.store.engine.dispose()
