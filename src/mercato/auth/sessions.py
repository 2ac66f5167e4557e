"""Sessions: login, refresh-token rotation, logout, revocation, service tokens.

Failed logins and failed client credentials are throttled (`mercato.auth.throttle`).

A login starts a refresh-token family; each refresh marks the presented token used
and issues the next one in the same family, with a new access token whose `jti` is
stored beside it. Presenting a used token again means it was stolen (or replayed):
the whole family is revoked, with the unexpired access tokens issued in it.

Revocations take effect in this process at once (the runtime's RevocationList), in
every other service when the `auth.token_revoked` event arrives, and in other auth
replicas through the `revoked_tokens` table, which auth's own routes consult.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.auth import store
from mercato.auth.context import AuthContext, release
from mercato.auth.models import User
from mercato.auth.schemas import ClientTokenOut, TokenOut
from mercato.auth.store import AccessRef
from mercato.auth.tokens import hash_refresh_token, mint_access_token, new_refresh_token
from mercato.chassis.security.tokens import Principal
from mercato.chassis.web.errors import Unauthorized, Unprocessable, field_error
from mercato.contracts.events import TokenRevoked

__all__ = [
    "check_not_revoked",
    "client_token",
    "end_sessions",
    "login",
    "logout",
    "refresh",
]

log = logging.getLogger("mercato.auth")
BAD_CREDENTIALS = "Invalid email or password."
BAD_REFRESH = "The refresh token is invalid, expired or revoked."


async def login(
    session: AsyncSession, ctx: AuthContext, *, email: str, password: str, client: str
) -> TokenOut:
    """Check the credentials (throttled: `mercato.auth.throttle`) and start a session."""
    now = ctx.clock()
    await ctx.logins.admit(session, subject=email, source=client, now=now)
    user = await store.user_by_email(session, email)
    await release(session)
    if user is None:
        await ctx.passwords.verify_dummy(password)
        valid = False
    else:
        valid = await ctx.passwords.verify(user.password_hash, password)
    if user is None or not valid:
        await ctx.logins.failed(session, subject=email, source=client, now=now)
        await session.commit()
        raise Unauthorized(BAD_CREDENTIALS)
    if ctx.passwords.needs_rehash(user.password_hash):  # the hashing parameters changed
        user.password_hash = await ctx.passwords.hash(password)
    await ctx.logins.succeeded(session, subject=email, source=client)
    tokens = await _start_session(session, ctx, user, family_id=uuid.uuid4().hex, now=now)
    await session.commit()
    return tokens


async def _start_session(
    session: AsyncSession, ctx: AuthContext, user: User, *, family_id: str, now: float
) -> TokenOut:
    settings = ctx.settings
    access = mint_access_token(
        key=ctx.keys.active,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        subject=user.id,
        roles=user.roles,
        ttl=settings.access_ttl_seconds,
        now=now,
        extra={"email": user.email, "name": user.name},
    )
    refresh_token, token_hash = new_refresh_token()
    await store.add_refresh_token(
        session,
        token_hash=token_hash,
        family_id=family_id,
        user_id=user.id,
        access=AccessRef(access.jti, user.id, access.expires_at),
        expires_at=now + settings.refresh_ttl_seconds,
        now=now,
    )
    return TokenOut(
        access_token=access.token,
        refresh_token=refresh_token,
        expires_in=settings.access_ttl_seconds,
    )


async def refresh(session: AsyncSession, ctx: AuthContext, *, refresh_token: str) -> TokenOut:
    """Rotate a refresh token; reusing a rotated one revokes its whole family."""
    now = ctx.clock()
    token_hash = hash_refresh_token(refresh_token)
    row = await store.refresh_token_by_hash(session, token_hash)
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise Unauthorized(BAD_REFRESH)
    if row.used_at is not None or not await store.mark_used(session, token_hash, now=now):
        revoked = await end_sessions(
            session, ctx, family_ids=[row.family_id], reason="refresh_reuse", now=now
        )
        await session.commit()
        ctx.remember(revoked)
        log.warning(
            "refresh token reused: family %s of user %s revoked", row.family_id, row.user_id
        )
        raise Unauthorized("The refresh token was already used; its sessions are revoked.")
    user = await store.user_by_id(session, row.user_id)
    if user is None:
        raise Unauthorized(BAD_REFRESH)
    tokens = await _start_session(session, ctx, user, family_id=row.family_id, now=now)
    await session.commit()
    return tokens


async def logout(session: AsyncSession, ctx: AuthContext, *, principal: Principal) -> None:
    """Revoke the caller's access token and the refresh family it came with."""
    now = ctx.clock()
    refs = [AccessRef(principal.token_id, principal.subject, principal.expires_at)]
    family = await store.family_of_access(session, principal.token_id)
    if family is not None:
        refs += await store.live_access_tokens(session, now=now, family_ids=[family])
        await store.revoke_families(session, now=now, family_ids=[family])
    revoked = await _revoke(session, ctx, refs, reason="logout", now=now)
    await session.commit()
    ctx.remember(revoked)


async def end_sessions(
    session: AsyncSession,
    ctx: AuthContext,
    *,
    reason: str,
    now: float,
    family_ids: Sequence[str] = (),
    user_id: str | None = None,
) -> list[AccessRef]:
    """Revoke these refresh families (or all of a user's) and their live access tokens.

    The caller commits, then passes the result to `ctx.remember`.
    """
    refs = await store.live_access_tokens(session, now=now, family_ids=family_ids, user_id=user_id)
    await store.revoke_families(session, now=now, family_ids=family_ids, user_id=user_id)
    return await _revoke(session, ctx, refs, reason=reason, now=now)


async def _revoke(
    session: AsyncSession, ctx: AuthContext, refs: Sequence[AccessRef], *, reason: str, now: float
) -> list[AccessRef]:
    """Record revocations and write one `auth.token_revoked` event for each new one."""
    new = await store.add_revocations(session, refs, reason=reason, now=now)
    for ref in new:
        data = TokenRevoked(
            jti=ref.jti, user_id=ref.user_id, expires_at=ref.expires_at, reason=reason
        )
        await ctx.outbox.add(session, data, subject=ref.user_id)
    return new


async def check_not_revoked(session: AsyncSession, *, principal: Principal) -> None:
    """Refuse a token revoked by any auth replica (the shared table is the truth)."""
    if await store.is_revoked(session, principal.token_id):
        raise Unauthorized("The token has been revoked.")


# Service tokens


async def client_token(
    session: AsyncSession,
    ctx: AuthContext,
    *,
    client_id: str,
    client_secret: str,
    audience: str,
    client: str,
) -> ClientTokenOut:
    """A service token for `audience` from client credentials (failures throttled)."""
    settings = ctx.settings
    now = ctx.clock()
    await ctx.client_credentials.admit(session, subject=client_id, source=client, now=now)
    expected = settings.client_secrets().get(client_id)
    # Constant-time comparison; an unknown client compares against nothing and fails.
    if expected is None or not hmac.compare_digest(client_secret.encode(), expected.encode()):
        await ctx.client_credentials.failed(session, subject=client_id, source=client, now=now)
        await session.commit()
        raise Unauthorized("Invalid client credentials.")
    await session.commit()  # the slot a slowed client id may have taken
    if audience == settings.jwt_audience:
        raise Unprocessable(
            "A service token is for one service: name it as the audience.",
            errors=[field_error("audience", "must name a service")],
        )
    access = mint_access_token(
        key=ctx.keys.active,
        issuer=settings.jwt_issuer,
        audience=audience,
        subject=f"service:{client_id}",
        roles=["service"],
        ttl=settings.access_ttl_seconds,
        now=now,
        extra={"typ": "service"},
    )
    return ClientTokenOut(access_token=access.token, expires_in=settings.access_ttl_seconds)
