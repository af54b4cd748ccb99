"""Access tokens: RS256 JWTs signed by the newest key of the auth database, verified by any key
that is not retired, found by the ``kid`` in the token's header.

Verification accepts exactly one algorithm (RS256) with an RSA public key object, so a token
with ``alg: none``, an HMAC token signed with the public key as its secret (HS/RS confusion), or
any other algorithm is refused before a signature is checked. ``exp``, ``nbf``, ``iat``,
``iss``, ``aud``, ``sub`` and ``role`` are required. An unknown ``kid`` reloads the keys from
the database (at most once per :data:`RELOAD_INTERVAL_S`), so a key rotated by another replica
or by ``sextant keys rotate`` is picked up without a restart, and nobody is logged out: tokens
signed by the previous key stay valid until they expire.

A verified token is remembered until it expires (:data:`CACHE_SIZE` tokens): a client sends
the same token for up to 15 minutes, and the RSA check is ~50 µs of the gateway's few-ms budget.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.exc import SQLAlchemyError

from sextant_gateway.auth.policy import Role
from sextant_gateway.auth.store import AuthStore

ALGORITHM = "RS256"
KEY_BITS = 2048
LEEWAY_S = 5.0
"""Clock skew tolerated on ``exp``/``nbf``/``iat`` between replicas, seconds."""
RELOAD_INTERVAL_S = 1.0
CACHE_SIZE = 10_000
REQUIRED_CLAIMS = ("exp", "nbf", "iat", "iss", "aud", "sub", "role", "jti")


class TokenRejected(Exception):
    """An access token that does not authenticate; ``reason`` is a short machine-readable
    cause (metric label) and the message says it to the caller."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """Who a verified token speaks for."""

    username: str
    role: Role
    expires_at: float


def new_private_pem() -> str:
    """A fresh RSA private key in PKCS#8 PEM."""
    key = rsa.generate_private_key(public_exponent=65_537, key_size=KEY_BITS)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class KeyRing:
    """The signing key and the verifying keys, loaded from an :class:`AuthStore`."""

    def __init__(self, store: AuthStore, *, issuer: str, audience: str, ttl_s: float) -> None:
        self._store = store
        self.issuer = issuer
        self.audience = audience
        self.ttl_s = ttl_s
        self._lock = threading.Lock()
        self._public: dict[str, rsa.RSAPublicKey] = {}
        self._signing: tuple[str, rsa.RSAPrivateKey] | None = None
        self._loaded_at = 0.0
        self._verified: OrderedDict[str, Principal] = OrderedDict()
        self.reload(create_if_missing=True)

    def reload(self, *, create_if_missing: bool = False) -> None:
        """Read the keys again; with ``create_if_missing``, make the first key if none exists."""
        keys = self._store.signing_keys()
        if not keys and create_if_missing:
            self._store.add_key(secrets.token_hex(8), new_private_pem())
            keys = self._store.signing_keys()
        private = {
            k.kid: serialization.load_pem_private_key(k.private_pem.encode(), password=None)
            for k in keys
        }
        public = {}
        for kid, key in private.items():
            assert isinstance(key, rsa.RSAPrivateKey), f"signing key {kid} is not RSA"
            public[kid] = key.public_key()
        with self._lock:
            self._public = public
            if keys:
                newest = keys[-1].kid
                signing = private[newest]
                assert isinstance(signing, rsa.RSAPrivateKey)
                self._signing = (newest, signing)
            self._loaded_at = time.monotonic()
            # a retired key's tokens must stop verifying now, not when they leave the cache
            self._verified = OrderedDict(
                (t, p) for t, p in self._verified.items() if _kid_of(t) in public
            )

    def rotate(self) -> str:
        """Make a new signing key; keys replaced more than one token lifetime ago retire."""
        kid = secrets.token_hex(8)
        self._store.add_key(kid, new_private_pem())
        self._store.retire_keys_superseded_before(time.time() - self.ttl_s - LEEWAY_S)
        self.reload()
        return kid

    def jwks(self) -> dict[str, Any]:
        """The verifying keys as a JSON Web Key Set (public parts only)."""
        with self._lock:
            items = list(self._public.items())
        keys = []
        for kid, key in items:
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(key, as_dict=True)
            keys.append({**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"})
        return {"keys": keys}

    def issue(self, username: str, role: Role) -> tuple[str, int]:
        """An access token for ``username`` and its lifetime in seconds."""
        if time.monotonic() - self._loaded_at > 60.0:  # pick up another replica's rotation
            self.reload()
        with self._lock:
            assert self._signing is not None, "no signing key"
            kid, key = self._signing
        now = int(time.time())
        ttl = int(self.ttl_s)
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": username,
            "role": role.name,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid}), ttl

    def verify(self, token: str) -> Principal:
        """The principal of a valid access token; :class:`TokenRejected` otherwise."""
        cached = self._verified.get(token)
        if cached is not None:
            if cached.expires_at + LEEWAY_S > time.time():
                return cached
            self._verified.pop(token, None)
        principal = self._verify(token)
        with self._lock:
            self._verified[token] = principal
            if len(self._verified) > CACHE_SIZE:
                self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise TokenRejected("malformed", "the token is not a JWT") from None
        if header.get("alg") != ALGORITHM:
            raise TokenRejected(
                "algorithm", f"token algorithm {header.get('alg')!r} refused: only {ALGORITHM}"
            )
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise TokenRejected("kid", "the token names no signing key (kid)")
        key = self._public.get(kid)
        if key is None and time.monotonic() - self._loaded_at > RELOAD_INTERVAL_S:
            try:
                self.reload()
            except SQLAlchemyError:  # the database is down: only the keys known so far verify
                self._loaded_at = time.monotonic()
            key = self._public.get(kid)
        if key is None:
            raise TokenRejected("kid", "the token's signing key is unknown or retired")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_S,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError:
            raise TokenRejected("expired", "the token has expired") from None
        except jwt.ImmatureSignatureError:
            raise TokenRejected("not_yet_valid", "the token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise TokenRejected("audience", "the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected("issuer", "the token is from another issuer") from None
        except jwt.InvalidSignatureError:
            raise TokenRejected("signature", "the token's signature does not verify") from None
        except jwt.InvalidTokenError as exc:
            raise TokenRejected("invalid", f"invalid token: {exc}") from None
        try:
            role = Role.parse(str(claims["role"]))
        except ValueError:
            raise TokenRejected("role", "the token names an unknown role") from None
        return Principal(str(claims["sub"]), role, float(claims["exp"]))


def _kid_of(token: str) -> str | None:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError:
        return None
    return kid if isinstance(kid, str) else None
