"""Access tokens, signing keys and refresh-token families against the real auth database
(SQLite, and the project's Postgres)."""

from __future__ import annotations

import base64
import hmac
import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization

from sextant_gateway.auth.passwords import hash_password
from sextant_gateway.auth.policy import Role
from sextant_gateway.auth.store import AuthStore, RefreshRefused, engine_for
from sextant_gateway.auth.tokens import ALGORITHM, KeyRing, TokenRejected, new_private_pem

ISSUER, AUDIENCE = "sextant", "sextant-api"


@pytest.fixture
def store(tmp_path: Path) -> AuthStore:
    return AuthStore(engine_for(None, tmp_path))


def ring(store: AuthStore, ttl_s: float = 900) -> KeyRing:
    return KeyRing(store, issuer=ISSUER, audience=AUDIENCE, ttl_s=ttl_s)


def claims(**over: object) -> dict[str, object]:
    now = int(time.time())
    base: dict[str, object] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "role": "researcher",
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    return {**base, **over}


def signed(store: AuthStore, payload: dict[str, object], **headers: object) -> str:
    key = store.signing_keys()[-1]
    private = serialization.load_pem_private_key(key.private_pem.encode(), password=None)
    return jwt.encode(payload, private, algorithm=ALGORITHM, headers={"kid": key.kid, **headers})  # type: ignore[arg-type]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def private_key(pem: str) -> Any:
    return serialization.load_pem_private_key(pem.encode(), password=None)


def hs256(secret: bytes, kid: str, body: str) -> str:
    """A token signed with HMAC-SHA256 under ``secret``, as an attacker would make it."""
    head = b64(json.dumps({"alg": "HS256", "kid": kid, "typ": "JWT"}).encode())
    mac = hmac.new(secret, f"{head}.{body}".encode(), "sha256").digest()
    return f"{head}.{body}.{b64(mac)}"


def test_a_token_it_issued_verifies_with_its_user_and_role(store: AuthStore) -> None:
    keys = ring(store)
    token, ttl = keys.issue("alice", Role.researcher)
    principal = keys.verify(token)
    assert (principal.username, principal.role, ttl) == ("alice", Role.researcher, 900)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256" and header["kid"] == store.signing_keys()[-1].kid


def test_every_kind_of_bad_token_is_rejected_with_its_reason(store: AuthStore) -> None:
    keys = ring(store)
    now = int(time.time())
    public_pem = (
        serialization.load_pem_private_key(store.signing_keys()[-1].private_pem.encode(), None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    kid = store.signing_keys()[-1].kid
    body = b64(json.dumps(claims()).encode())
    good = signed(store, claims())
    head, payload, signature = good.split(".")
    forged_payload = b64(json.dumps(claims(role="admin")).encode())
    other_key = new_private_pem()
    bad = {
        "alg none": (
            b64(json.dumps({"alg": "none", "kid": kid}).encode()) + f".{body}.",
            "algorithm",
        ),
        # HS/RS confusion: an HMAC token keyed with the (public) RSA key's PEM
        "HS256 with the public key": (hs256(public_pem, kid, body), "algorithm"),
        "RS512": (
            jwt.encode(
                claims(),
                serialization.load_pem_private_key(
                    store.signing_keys()[-1].private_pem.encode(), None
                ),  # type: ignore[arg-type]
                algorithm="RS512",
                headers={"kid": kid},
            ),
            "algorithm",
        ),
        "expired": (signed(store, claims(iat=now - 4000, nbf=now - 4000, exp=now - 60)), "expired"),
        "not yet valid": (signed(store, claims(nbf=now + 600, exp=now + 1200)), "not_yet_valid"),
        "issued in the future": (signed(store, claims(iat=now + 600)), "not_yet_valid"),
        "wrong audience": (signed(store, claims(aud="another-api")), "audience"),
        "wrong issuer": (signed(store, claims(iss="evil")), "issuer"),
        "tampered payload": (f"{head}.{forged_payload}.{signature}", "signature"),
        "tampered signature": (f"{head}.{payload}.{signature[:-4]}AAAA", "signature"),
        "unknown kid": (
            jwt.encode(
                claims(),
                private_key(other_key),
                algorithm="RS256",
                headers={"kid": "0123456789abcdef"},
            ),
            "kid",
        ),
        "no kid": (
            jwt.encode(
                claims(),
                private_key(other_key),
                algorithm="RS256",
            ),
            "kid",
        ),
        "known kid, other key": (
            jwt.encode(
                claims(),
                private_key(other_key),
                algorithm="RS256",
                headers={"kid": kid},
            ),
            "signature",
        ),
        "no expiry": (signed(store, {k: v for k, v in claims().items() if k != "exp"}), "invalid"),
        "unknown role": (signed(store, claims(role="root")), "role"),
        "not a JWT": ("not-a-token", "malformed"),
    }
    assert keys.verify(good).username == "alice"
    for name, (token, reason) in bad.items():
        with pytest.raises(TokenRejected) as refused:
            keys.verify(token)
        assert refused.value.reason == reason, name


def test_rotation_keeps_older_tokens_valid_and_other_replicas_learn_the_new_key(
    store: AuthStore,
) -> None:
    first, replica = ring(store), ring(store)
    before, _ = first.issue("alice", Role.viewer)
    new_kid = first.rotate()
    after, _ = first.issue("alice", Role.viewer)
    assert jwt.get_unverified_header(after)["kid"] == new_kid
    time.sleep(1.1)  # the replica reloads keys for an unknown kid at most once a second
    for token in (before, after):
        assert first.verify(token).username == "alice"
        assert replica.verify(token).username == "alice"
    assert {k["kid"] for k in first.jwks()["keys"]} == {k.kid for k in store.signing_keys()}
    assert all("d" not in k for k in first.jwks()["keys"])  # public parts only


def test_a_key_replaced_longer_than_a_token_lifetime_ago_retires(store: AuthStore) -> None:
    keys = ring(store, ttl_s=1)
    old, _ = keys.issue("alice", Role.viewer)
    keys.rotate()
    time.sleep(7)  # > ttl + leeway: nothing the first key signed can still be valid
    keys.rotate()  # retires keys replaced before now - ttl - leeway
    assert len(store.signing_keys()) == 2
    with pytest.raises(TokenRejected) as refused:
        keys.verify(old)
    assert refused.value.reason in ("kid", "expired")


def _postgres_url() -> str | None:
    url = "postgresql://postgres@127.0.0.1:5432/test"
    try:
        with engine_for(url, Path(".")).connect() as conn:
            conn.execute(sa.text("select 1"))
    except sa.exc.OperationalError:
        return None
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuthStore]:
    if request.param == "sqlite":
        yield AuthStore(engine_for(None, tmp_path))
        return
    url = _postgres_url()
    if url is None:
        if os.environ.get("CI"):
            pytest.fail("no Postgres on 127.0.0.1:5432 (the project machines have one)")
        pytest.skip("no Postgres on 127.0.0.1:5432")
    schema = f"auth_{uuid.uuid4().hex[:8]}"
    admin = engine_for(url, tmp_path)
    with admin.begin() as conn:
        conn.execute(sa.text(f"create schema {schema}"))
    engine = sa.create_engine(
        url.replace("postgresql://", "postgresql+psycopg://"),
        connect_args={"options": f"-csearch_path={schema}"},
    )
    try:
        yield AuthStore(engine)
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"drop schema {schema} cascade"))
        admin.dispose()


def test_refresh_tokens_rotate_and_a_reused_one_revokes_its_family(any_store: AuthStore) -> None:
    any_store.create_user("admin", hash_password("a long password 1"), Role.admin)
    any_store.create_user("bob", hash_password("a long password 2"), Role.researcher)
    first = any_store.issue_refresh("bob", 60)
    other_session = any_store.issue_refresh("bob", 60)
    user, second = any_store.spend_refresh(first, 60)
    assert (user.username, user.role) == ("bob", Role.researcher)
    _, third = any_store.spend_refresh(second, 60)
    with pytest.raises(RefreshRefused, match="reused"):
        any_store.spend_refresh(first, 60)  # a stolen, already spent token comes back
    with pytest.raises(RefreshRefused, match="revoked"):
        any_store.spend_refresh(third, 60)  # ... and the family it belonged to is over
    _, still = any_store.spend_refresh(other_session, 60)  # another sign-in is untouched
    with pytest.raises(RefreshRefused, match="unknown"):
        any_store.spend_refresh("made-up", 60)
    any_store.update_user("bob", role=Role.viewer)
    user, still = any_store.spend_refresh(still, 60)
    assert user.role == Role.viewer  # a refresh carries the current role
    any_store.update_user("bob", disabled=True)
    with pytest.raises(RefreshRefused, match="revoked"):
        any_store.spend_refresh(still, 60)
    with pytest.raises(ValueError, match="no active admin"):
        any_store.update_user("admin", role=Role.viewer)
    with pytest.raises(ValueError, match="no active admin"):
        any_store.delete_user("admin")
    assert any_store.user("admin") is not None and any_store.user("admin").role == Role.admin  # type: ignore[union-attr]


def test_an_expired_refresh_token_is_refused(any_store: AuthStore) -> None:
    any_store.create_user("carol", hash_password("a long password 3"), Role.viewer)
    token = any_store.issue_refresh("carol", 0.2)
    time.sleep(0.4)
    with pytest.raises(RefreshRefused, match="expired"):
        any_store.spend_refresh(token, 60)
