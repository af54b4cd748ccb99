"""``/api/v1/auth``: OAuth2 sign-in and refresh, sign-out, who am I, the public keys, and key
rotation; ``/api/v1/users``: user administration (admin).

``POST /api/v1/auth/token`` is the OAuth2 token endpoint (RFC 6749): form-encoded
``grant_type=password`` with ``username`` and ``password``, or ``grant_type=refresh_token`` with
``refresh_token``. It answers a short-lived access token (a JWT to send as ``Authorization:
Bearer``) and a refresh token that is spent by its first use; presenting a spent one again
revokes its whole session.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

from fastapi import APIRouter, Form, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from sextant_common.content_type import form_endpoint
from sextant_gateway.auth import passwords
from sextant_gateway.auth.middleware import principal_of
from sextant_gateway.auth.passwords import MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS
from sextant_gateway.auth.policy import Role
from sextant_gateway.auth.service import Auth, Session, SignInRefused
from sextant_gateway.auth.store import RefreshRefused, User
from sextant_gateway.quotas import charge, check

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
users_router = APIRouter(prefix="/api/v1/users", tags=["users"])

RoleName = Literal["viewer", "researcher", "admin"]
UserName = Annotated[str, Path(pattern=passwords.USERNAME_PATTERN, description="A user name")]


def _auth(request: Request) -> Auth:
    auth: Auth = request.app.state.auth
    return auth


class TokenAnswer(BaseModel):
    """A session's tokens (OAuth2 access token response, RFC 6749 section 5.1)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (OAuth2 token type, not a secret)
    expires_in: int = Field(description="Seconds the access token is valid")
    refresh_token: str
    refresh_expires_in: int = Field(description="Seconds the refresh token is valid unless spent")
    username: str
    role: RoleName


def _answer(session: Session) -> TokenAnswer:
    return TokenAnswer(
        access_token=session.access_token,
        expires_in=session.expires_in,
        refresh_token=session.refresh_token,
        refresh_expires_in=session.refresh_expires_in,
        username=session.user.username,
        role=session.user.role.name,
    )


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail=detail, headers={"WWW-Authenticate": 'Bearer realm="sextant"'})


@router.post(
    "/token",
    responses={
        400: {"description": "Unsupported grant type or a missing field for the grant"},
        401: {"description": "Wrong credentials, or a refresh token that cannot be spent"},
        429: {"description": "Too many failed sign-ins for this user name: wait Retry-After"},
    },
)
@form_endpoint
async def token(
    request: Request,
    grant_type: Annotated[Literal["password", "refresh_token"], Form()],
    username: Annotated[str | None, Form(max_length=64)] = None,
    password: Annotated[str | None, Form(max_length=MAX_PASSWORD_CHARS)] = None,
    refresh_token: Annotated[str | None, Form(max_length=256)] = None,
) -> TokenAnswer:
    """Sign in with a password, or refresh a session (form-encoded, OAuth2)."""
    auth = _auth(request)
    if grant_type == "password":
        if username is None or password is None:
            raise HTTPException(400, detail="grant_type=password needs username and password")
        # Failed attempts count per user name and client address: a guesser is slowed down
        # without locking the user out from everywhere else.
        attempt = f"{username}@{request.client.host if request.client else '?'}"
        await check(request, "login", attempt)  # 429 once too many attempts failed
        try:
            session = await asyncio.to_thread(auth.sign_in, username, password)
        except SignInRefused as exc:
            await charge(request, "login", attempt)
            raise _unauthorized(str(exc)) from None
        return _answer(session)
    if refresh_token is None:
        raise HTTPException(400, detail="grant_type=refresh_token needs refresh_token")
    try:
        session = await asyncio.to_thread(auth.refresh, refresh_token)
    except RefreshRefused as exc:
        raise _unauthorized(exc.reason) from None
    return _answer(session)


class Logout(BaseModel):
    """The refresh token of the session to end."""

    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(max_length=256)


@router.post("/logout", status_code=204, responses={204: {"description": "Session ended"}})
async def logout(body: Logout, request: Request) -> Response:
    """End the session the refresh token belongs to (every token of its family)."""
    await asyncio.to_thread(_auth(request).store.revoke_family_of, body.refresh_token)
    return Response(status_code=204)


class Me(BaseModel):
    """The caller."""

    username: str
    role: RoleName


@router.get("/me")
async def me(request: Request) -> Me:
    """Who the access token speaks for."""
    principal = principal_of(request.scope)
    return Me(username=principal.username, role=principal.role.name)


@router.get("/jwks")
async def jwks(request: Request) -> dict[str, object]:
    """The public keys that verify access tokens (JSON Web Key Set, RFC 7517)."""
    return _auth(request).keys.jwks()


class Rotated(BaseModel):
    """The new signing key."""

    kid: str


@router.post("/keys/rotate")
async def rotate_keys(request: Request) -> Rotated:
    """Sign new tokens with a new key; tokens of the previous key stay valid until they expire."""
    return Rotated(kid=await asyncio.to_thread(_auth(request).keys.rotate))


class UserOut(BaseModel):
    """A user (never the password hash)."""

    username: str
    role: RoleName
    disabled: bool
    created_at: float = Field(description="Epoch seconds")


def _out(user: User) -> UserOut:
    return UserOut(
        username=user.username,
        role=user.role.name,
        disabled=user.disabled,
        created_at=user.created_at,
    )


class UserCreate(BaseModel):
    """A new user."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=passwords.USERNAME_PATTERN)
    password: str = Field(min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)
    role: RoleName = "viewer"


class UserChange(BaseModel):
    """Fields to change; a new password or disabling ends the user's sessions."""

    model_config = ConfigDict(extra="forbid")
    role: RoleName | None = None
    disabled: bool | None = None
    password: str | None = Field(None, min_length=MIN_PASSWORD_CHARS, max_length=MAX_PASSWORD_CHARS)


@users_router.get("")
async def list_users(request: Request) -> list[UserOut]:
    """Every user."""
    return [_out(u) for u in await asyncio.to_thread(_auth(request).store.list_users)]


@users_router.post("", status_code=201, responses={409: {"description": "The name is taken"}})
async def create_user(body: UserCreate, request: Request) -> UserOut:
    """Add a user."""
    auth = _auth(request)
    try:
        user = await asyncio.to_thread(
            auth.create_user, body.username, body.password, Role.parse(body.role)
        )
    except ValueError as exc:
        raise HTTPException(409 if "exists" in str(exc) else 422, detail=str(exc)) from None
    return _out(user)


@users_router.patch(
    "/{username}",
    responses={
        404: {"description": "No such user"},
        409: {"description": "It would leave no active admin"},
    },
)
async def change_user(username: UserName, body: UserChange, request: Request) -> UserOut:
    """Change a user's role, password or disabled flag."""
    auth = _auth(request)
    try:
        password_hash = None
        if body.password is not None:
            password_hash = await asyncio.to_thread(passwords.hash_password, body.password)
        user = await asyncio.to_thread(
            auth.store.update_user,
            username,
            role=None if body.role is None else Role.parse(body.role),
            disabled=body.disabled,
            password_hash=password_hash,
        )
    except ValueError as exc:
        raise HTTPException(422 if "password" in str(exc) else 409, detail=str(exc)) from None
    if user is None:
        raise HTTPException(404, detail=f"no user {username!r}")
    return _out(user)


@users_router.delete(
    "/{username}",
    status_code=204,
    responses={
        404: {"description": "No such user"},
        409: {"description": "It would leave no active admin"},
    },
)
async def delete_user(username: UserName, request: Request) -> Response:
    """Remove a user and end their sessions."""
    try:
        found = await asyncio.to_thread(_auth(request).store.delete_user, username)
    except ValueError as exc:
        raise HTTPException(409, detail=str(exc)) from None
    if not found:
        raise HTTPException(404, detail=f"no user {username!r}")
    return Response(status_code=204)
