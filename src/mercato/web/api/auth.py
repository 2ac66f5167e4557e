"""Calls to auth: register, log in, refresh, log out, who am I (DESIGN.md's public shapes)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from mercato.web.api.backend import Caller

__all__ = ["Account", "Tokens", "login", "logout", "me", "refresh", "register"]


class Tokens(BaseModel):
    """A pair of tokens from a login or a refresh."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    access_token: str
    refresh_token: str
    expires_in: int


class Account(BaseModel):
    """An account: its id (the tokens' subject), email, name and roles."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    email: str
    name: str
    roles: tuple[str, ...]


async def register(caller: Caller, *, name: str, email: str, password: str) -> Account:
    """Create a customer account (409: the email is taken; 422: `errors` say why)."""
    body = {"name": name, "email": email, "password": password}
    return Account.model_validate(
        await caller.call("auth", "POST", "/api/auth/register", json=body)
    )


async def login(caller: Caller, *, email: str, password: str) -> Tokens:
    """Exchange email and password for tokens (401: wrong; 429: throttled)."""
    body = {"email": email, "password": password}
    return Tokens.model_validate(await caller.call("auth", "POST", "/api/auth/login", json=body))


async def refresh(caller: Caller, *, refresh_token: str) -> Tokens:
    """Rotate a refresh token for a new pair (401: unknown, expired, revoked or reused)."""
    body = {"refresh_token": refresh_token}
    return Tokens.model_validate(await caller.call("auth", "POST", "/api/auth/refresh", json=body))


async def logout(caller: Caller) -> None:
    """Revoke the caller's access token and its refresh family."""
    await caller.call("auth", "POST", "/api/auth/logout")


async def me(caller: Caller) -> Account:
    """The caller's own account."""
    return Account.model_validate(await caller.call("auth", "GET", "/api/auth/me"))
