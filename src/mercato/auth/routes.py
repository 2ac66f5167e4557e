"""HTTP routes of the auth service: a thin layer over `mercato.auth.service`.

Everything is under `/api/auth`, except the JWKS at `/.well-known/jwks.json`, the
address every JWT library looks for. Token responses carry `Cache-Control: no-store`
(RFC 6749, section 5.1).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from mercato.auth import service, sessions
from mercato.auth.context import AuthContext
from mercato.auth.schemas import (
    ClientTokenIn,
    ClientTokenOut,
    JwksOut,
    KeyOut,
    LoginIn,
    RefreshIn,
    RegisterIn,
    RolesIn,
    TokenOut,
    UserOut,
    user_body,
)
from mercato.chassis.security.client_addresses import client_address
from mercato.chassis.security.tokens import CurrentUser, Principal
from mercato.chassis.web.dependencies import SessionDep, context_of
from mercato.chassis.web.errors import Forbidden
from mercato.chassis.web.json_body import StrictJsonRoute

__all__ = ["router", "well_known"]

router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=StrictJsonRoute)
well_known = APIRouter(tags=["auth"], route_class=StrictJsonRoute)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
JWKS_CACHE = "public, max-age=15"


Context = Annotated[AuthContext, Depends(context_of)]


async def _caller(principal: CurrentUser, session: SessionDep) -> Principal:
    await sessions.check_not_revoked(session, principal=principal)
    return principal


Caller = Annotated[Principal, Depends(_caller)]


async def _admin(principal: Caller) -> Principal:
    if not principal.is_admin:
        raise Forbidden("This needs the admin role.")
    return principal


AdminCaller = Annotated[Principal, Depends(_admin)]


async def _source(request: Request, ctx: Context) -> str:
    """The caller's address, for throttling (`chassis.security.client_addresses`)."""
    return await client_address(request, honour_forwarded=ctx.settings.trust_forwarded_for)


Source = Annotated[str, Depends(_source)]


@router.post("/register", status_code=201)
async def register(body: RegisterIn, session: SessionDep, ctx: Context) -> UserOut:
    """Create a customer account."""
    user = await service.register(
        session, ctx, email=body.email, password=body.password, name=body.name
    )
    return user_body(user)


@router.post("/login")
async def login(
    body: LoginIn, response: Response, session: SessionDep, ctx: Context, source: Source
) -> TokenOut:
    """Exchange email and password for an access and a refresh token."""
    tokens = await sessions.login(
        session, ctx, email=body.email, password=body.password, client=source
    )
    response.headers.update(NO_STORE)
    return tokens


@router.post("/refresh")
async def refresh(
    body: RefreshIn, response: Response, session: SessionDep, ctx: Context
) -> TokenOut:
    """Rotate a refresh token for a new pair of tokens."""
    tokens = await sessions.refresh(session, ctx, refresh_token=body.refresh_token)
    response.headers.update(NO_STORE)
    return tokens


@router.post("/logout", status_code=204)
async def logout(principal: Caller, session: SessionDep, ctx: Context) -> Response:
    """Revoke the presented access token and its refresh family."""
    await sessions.logout(session, ctx, principal=principal)
    return Response(status_code=204)


@router.get("/me")
async def me(principal: Caller, session: SessionDep) -> UserOut:
    """The caller's own account."""
    return user_body(await service.me(session, principal=principal))


@router.post("/token")
async def token(
    body: ClientTokenIn, response: Response, session: SessionDep, ctx: Context, source: Source
) -> ClientTokenOut:
    """A service token from client credentials (audience = the target service)."""
    issued = await sessions.client_token(
        session,
        ctx,
        client_id=body.client_id,
        client_secret=body.client_secret,
        audience=body.audience,
        client=source,
    )
    response.headers.update(NO_STORE)
    return issued


@router.put("/users/{user_id}/roles")
async def set_roles(
    user_id: Annotated[str, Path(max_length=64)],
    body: RolesIn,
    _: AdminCaller,
    session: SessionDep,
    ctx: Context,
) -> UserOut:
    """Give an account exactly these roles (admin only)."""
    user = await service.set_roles(session, ctx, user_id=user_id, roles=body.roles)
    return user_body(user)


@router.post("/keys/rotate", status_code=201)
async def rotate_keys(_: AdminCaller, ctx: Context) -> KeyOut:
    """Make a new signing key active; the old one stays published until its tokens expire."""
    key = await ctx.keys.rotate()
    return KeyOut(kid=key.kid, created_at=key.created_at)


@well_known.get("/.well-known/jwks.json")
async def jwks(response: Response, ctx: Context) -> JwksOut:
    """The public keys that verify access tokens."""
    await ctx.keys.refresh(max_age=1.0)
    response.headers["Cache-Control"] = JWKS_CACHE
    return JwksOut(**ctx.keys.jwks())
