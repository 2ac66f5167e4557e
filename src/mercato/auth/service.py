"""Accounts: registration, the caller's account, roles, and the first admin.

Plain functions with keyword-only arguments. Each takes the request's session and the
process's `AuthContext`, commits what it changed together with the events it wrote
to the outbox, and raises `mercato.chassis.web.errors` problems. Sessions and tokens are
in `mercato.auth.sessions`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.auth import store
from mercato.auth.context import AuthContext, passwords_for, release
from mercato.auth.models import EVENTS, MIGRATIONS, User
from mercato.auth.passwords import Passwords, WeakPassword, check_password
from mercato.auth.schemas import normalize_email
from mercato.auth.sessions import end_sessions
from mercato.auth.settings import AuthSettings
from mercato.auth.store import AccessRef
from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from mercato.chassis.events import Outbox
from mercato.chassis.security.tokens import Principal
from mercato.chassis.web.errors import (
    Conflict,
    Forbidden,
    NotFound,
    Unauthorized,
    Unprocessable,
    field_error,
)
from mercato.contracts.events import UserRegistered, UserRolesChanged

__all__ = ["create_admin", "ensure_admin", "me", "register", "set_roles"]


def _password_error(error: WeakPassword) -> Unprocessable:
    return Unprocessable(
        "Invalid fields: password",
        errors=[
            field_error("password", problem, type="weak_password") for problem in error.problems
        ],
    )


# Accounts


async def register(
    session: AsyncSession, ctx: AuthContext, *, email: str, password: str, name: str
) -> User:
    """Create a customer account and write `user.registered` with it."""
    try:
        check_password(password, email=email)
    except WeakPassword as error:
        raise _password_error(error) from None
    if await store.user_by_email(session, email) is not None:
        raise Conflict("An account with this email already exists.")
    await release(session)
    password_hash = await ctx.passwords.hash(password)
    try:
        user = await _create_user(
            session,
            ctx.outbox,
            email=email,
            name=name,
            password_hash=password_hash,
            roles=["customer"],
            now=ctx.clock(),
        )
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise Conflict("An account with this email already exists.") from None
    return user


async def _create_user(
    session: AsyncSession,
    outbox: Outbox,
    *,
    email: str,
    name: str,
    password_hash: str,
    roles: list[str],
    now: float,
) -> User:
    user = await store.add_user(
        session,
        user_id=str(uuid.uuid4()),
        email=email,
        name=name,
        password_hash=password_hash,
        roles=roles,
        now=now,
    )
    data = UserRegistered(user_id=user.id, email=user.email, name=user.name, roles=user.roles)
    await outbox.add(session, data, subject=user.id)
    return user


async def me(session: AsyncSession, *, principal: Principal) -> User:
    """The caller's own account."""
    if principal.is_service:
        raise Forbidden("A service token has no account.")
    user = await store.user_by_id(session, principal.subject)
    if user is None:
        raise Unauthorized("The token's account no longer exists.")
    return user


async def set_roles(
    session: AsyncSession, ctx: AuthContext, *, user_id: str, roles: Sequence[str]
) -> User:
    """Give an account exactly `roles`; removing a role ends its sessions."""
    user = await store.user_by_id(session, user_id)
    if user is None:
        raise NotFound("No such user.")
    wanted = sorted(set(roles))
    removed = set(user.roles) - set(wanted)
    if "admin" in removed and await store.count_admins(session) <= 1:
        raise Conflict("The last admin cannot lose the admin role.")
    now = ctx.clock()
    revoked: list[AccessRef] = []
    if store.set_roles(user, wanted, now=now):
        data = UserRolesChanged(user_id=user.id, roles=wanted)
        await ctx.outbox.add(session, data, subject=user.id)
        if removed:
            revoked = await end_sessions(
                session, ctx, user_id=user.id, reason="roles_changed", now=now
            )
    await session.commit()
    ctx.remember(revoked)
    return user


# The first admin


async def ensure_admin(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    passwords: Passwords,
    outbox: Outbox,
    reset_password: bool = False,
    now: float | None = None,
) -> bool:
    """Make `email` an admin, creating the account if needed; True when it was created."""
    now = time.time() if now is None else now
    user = await store.user_by_email(session, email)
    if user is None:
        password_hash = await passwords.hash(password)
        try:
            await _create_user(
                session,
                outbox,
                email=email,
                name="Administrator",
                password_hash=password_hash,
                roles=["admin"],
                now=now,
            )
            await session.commit()
            return True
        except IntegrityError:  # another replica created it at the same moment
            await session.rollback()
            user = await store.user_by_email(session, email)
            if user is None:
                raise
    if store.set_roles(user, {*user.roles, "admin"}, now=now):
        data = UserRolesChanged(user_id=user.id, roles=user.roles)
        await outbox.add(session, data, subject=user.id)
    if reset_password:
        user.password_hash = await passwords.hash(password)
        user.updated_at = now
    await session.commit()
    return False


async def create_admin(settings: AuthSettings, email: str, password: str) -> None:
    """Create or promote an admin (and set its password): `mercato create-admin`.

    Opens auth's database, applies the migrations and commits; raises ValueError with a
    one-line message when the email or the password is not acceptable.
    """
    email = normalize_email(email)
    local, at, domain = email.partition("@")
    if not (local and at and domain) or any(c.isspace() for c in email):
        raise ValueError(f"not an email address: {email!r}")
    check_password(password, email=email)
    db = Database(settings.sqlalchemy_url)
    try:
        await upgrade(db, MIGRATIONS, "auth")
        async with db.session() as session:
            await ensure_admin(
                session,
                email=email,
                password=password,
                passwords=passwords_for(settings),
                outbox=Outbox(EVENTS, source="auth"),
                reset_password=True,
            )
    finally:
        await db.dispose()
