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
from mercato.chassis.web.openapi import problems

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
HASHING = (
    "Unavailable: every password-hashing slot is busy (`Retry-After`), or the database is down."
)
THROTTLED = (
    "Too many failed attempts from this address or on this account (`Retry-After` says when "
    "to try again), or over the gateway's rates."
)
NOT_ADMIN = "The token is not an administrator's."


@router.post(
    "/register",
    status_code=201,
    responses=problems(
        {
            409: "An account with this email exists.",
            422: "Invalid fields, or a password the policy refuses (too short, too common, "
            "too like the email): `errors` says why.",
            429: "Too many password hashes at once from this client, or over the gateway's "
            "rates (`Retry-After`).",
            503: HASHING,
        }
    ),
)
async def register(body: RegisterIn, session: SessionDep, ctx: Context) -> UserOut:
    """Create a customer account."""
    user = await service.register(
        session, ctx, email=body.email, password=body.password, name=body.name
    )
    return user_body(user)


@router.post(
    "/login",
    responses=problems({401: "Wrong email or password.", 429: THROTTLED, 503: HASHING}),
)
async def login(
    body: LoginIn, response: Response, session: SessionDep, ctx: Context, source: Source
) -> TokenOut:
    """Exchange email and password for an access and a refresh token."""
    tokens = await sessions.login(
        session, ctx, email=body.email, password=body.password, client=source
    )
    response.headers.update(NO_STORE)
    return tokens


@router.post(
    "/refresh",
    responses=problems(
        {
            401: "The refresh token is unknown, expired or revoked; one used twice revokes "
            "its whole family."
        }
    ),
)
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


@router.get(
    "/me",
    responses=problems(
        {
            401: "No valid access token (missing, malformed, expired or revoked), or its "
            "account no longer exists.",
            403: "A service token: it has no account.",
        }
    ),
)
async def read_me(principal: Caller, session: SessionDep) -> UserOut:
    """The caller's own account."""
    return user_body(await service.me(session, principal=principal))


@router.post(
    "/token",
    responses=problems(
        {
            401: "Unknown client, or a wrong secret.",
            404: "Through the gateway: it does not serve this (services call auth directly).",
            422: "Invalid fields, or an audience that is not one service.",
            429: THROTTLED,
        }
    ),
)
async def issue_service_token(
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


@router.put(
    "/users/{user_id}/roles",
    responses=problems(
        {
            403: NOT_ADMIN,
            404: "No such user.",
            409: "The last administrator cannot lose the admin role.",
        }
    ),
)
async def set_roles(
    user_id: Annotated[str, Path(max_length=64, description="The account's id.")],
    body: RolesIn,
    _: AdminCaller,
    session: SessionDep,
    ctx: Context,
) -> UserOut:
    """Give an account exactly these roles (admin only)."""
    user = await service.set_roles(session, ctx, user_id=user_id, roles=body.roles)
    return user_body(user)


@router.post("/keys/rotate", status_code=201, responses=problems({403: NOT_ADMIN}))
async def rotate_keys(_: AdminCaller, ctx: Context) -> KeyOut:
    """Make a new signing key active; the old one stays published until its tokens expire."""
    key = await ctx.keys.rotate()
    return KeyOut(kid=key.kid, created_at=key.created_at)


@well_known.get("/.well-known/jwks.json")
async def read_jwks(response: Response, ctx: Context) -> JwksOut:
    """The public keys that verify access tokens."""
    await ctx.keys.refresh(max_age=1.0)
    response.headers["Cache-Control"] = JWKS_CACHE
    return JwksOut(**ctx.keys.jwks())
