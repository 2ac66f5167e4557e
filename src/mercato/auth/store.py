"""Queries of the auth service (the repository): functions taking an AsyncSession.

Upserts use `INSERT ... ON CONFLICT`, which SQLite and PostgreSQL both have, so a
counter increment or a repeated revocation is one atomic statement on either. MySQL
has `INSERT IGNORE` and `ON DUPLICATE KEY UPDATE` instead (`_mysql` functions), whose
row counts cannot tell an insert from an unchanged row: a conditional claim there is
a conditional update, then an insert that skips a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, and_, bindparam, case, delete, func, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.auth.models import (
    RefreshToken,
    RevokedToken,
    ThrottleCounter,
    User,
    UserRole,
)

__all__ = [
    "AccessRef",
    "add_refresh_token",
    "add_revocations",
    "add_user",
    "claim_slot",
    "clear_failures",
    "count_admins",
    "family_of_access",
    "is_revoked",
    "live_access_tokens",
    "mark_used",
    "prune",
    "record_failure",
    "refresh_token_by_hash",
    "revocations_since",
    "revoke_families",
    "set_roles",
    "throttle_counts",
    "user_by_email",
    "user_by_id",
]


@dataclass(frozen=True, slots=True)
class AccessRef:
    """An issued access token, as far as revocation needs to know it."""

    jti: str
    user_id: str
    expires_at: float


def _insert(session: AsyncSession) -> Any:
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _on_mysql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "mysql"


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount or 0)


# Accounts


async def user_by_email(session: AsyncSession, email: str) -> User | None:
    """The account with this (normalised) email."""
    return (await session.execute(select(User).where(User.email == email))).scalar_one_or_none()


# Built once, so its cache key is too (`session.get` builds one per call).
_USER_BY_ID = select(User).where(User.id == bindparam("user_id"))


async def user_by_id(session: AsyncSession, user_id: str) -> User | None:
    """The account with this id."""
    return (await session.execute(_USER_BY_ID, {"user_id": user_id})).scalar_one_or_none()


async def add_user(
    session: AsyncSession,
    *,
    user_id: str,
    email: str,
    name: str,
    password_hash: str,
    roles: Iterable[str],
    now: float,
) -> User:
    """Add an account to the session (flushed, so a duplicate email fails here)."""
    user = User(
        id=user_id,
        email=email,
        name=name,
        password_hash=password_hash,
        created_at=now,
        updated_at=now,
        role_rows=[UserRole(role=role) for role in sorted(set(roles))],
    )
    session.add(user)
    await session.flush()
    return user


def set_roles(user: User, roles: Iterable[str], *, now: float) -> bool:
    """Give `user` exactly `roles`; whether anything changed."""
    wanted = set(roles)
    current = set(user.roles)
    if wanted == current:
        return False
    user.role_rows = [row for row in user.role_rows if row.role in wanted]
    user.role_rows.extend(UserRole(role=role) for role in sorted(wanted - current))
    user.updated_at = now
    return True


async def count_admins(session: AsyncSession) -> int:
    """How many accounts hold the admin role."""
    query = select(func.count()).select_from(UserRole).where(UserRole.role == "admin")
    return int((await session.execute(query)).scalar_one())


# Refresh tokens


async def add_refresh_token(
    session: AsyncSession,
    *,
    token_hash: str,
    family_id: str,
    user_id: str,
    access: AccessRef,
    expires_at: float,
    now: float,
) -> None:
    """Store a refresh token (by hash) in its family."""
    session.add(
        RefreshToken(
            token_hash=token_hash,
            family_id=family_id,
            user_id=user_id,
            access_jti=access.jti,
            access_expires_at=access.expires_at,
            created_at=now,
            expires_at=expires_at,
        )
    )


async def refresh_token_by_hash(session: AsyncSession, token_hash: str) -> RefreshToken | None:
    """The refresh token with this hash."""
    return await session.get(RefreshToken, token_hash)


async def mark_used(session: AsyncSession, token_hash: str, *, now: float) -> bool:
    """Mark a refresh token used; False when it was used or revoked already (atomically)."""
    result = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.token_hash == token_hash,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=now)
    )
    return _rowcount(result) == 1


async def family_of_access(session: AsyncSession, jti: str) -> str | None:
    """The refresh family an access token was issued in, if any."""
    query = select(RefreshToken.family_id).where(RefreshToken.access_jti == jti).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


async def live_access_tokens(
    session: AsyncSession,
    *,
    now: float,
    family_ids: Sequence[str] = (),
    user_id: str | None = None,
) -> list[AccessRef]:
    """Unexpired access tokens issued in these families, or to this user."""
    scope = (
        RefreshToken.family_id.in_(family_ids)
        if user_id is None
        else RefreshToken.user_id == user_id
    )
    query = select(
        RefreshToken.access_jti, RefreshToken.user_id, RefreshToken.access_expires_at
    ).where(scope, RefreshToken.access_expires_at > now)
    rows = (await session.execute(query)).all()
    return [AccessRef(jti, user, exp) for jti, user, exp in rows]


async def revoke_families(
    session: AsyncSession,
    *,
    now: float,
    family_ids: Sequence[str] = (),
    user_id: str | None = None,
) -> None:
    """Revoke every refresh token of these families, or of this user."""
    scope = (
        RefreshToken.family_id.in_(family_ids)
        if user_id is None
        else RefreshToken.user_id == user_id
    )
    await session.execute(
        update(RefreshToken).where(scope, RefreshToken.revoked_at.is_(None)).values(revoked_at=now)
    )


# Revoked access tokens


async def add_revocations(
    session: AsyncSession, refs: Sequence[AccessRef], *, reason: str, now: float
) -> list[AccessRef]:
    """Record revocations; returns those that were not recorded already."""
    if not refs:
        return []
    jtis = [ref.jti for ref in refs]
    known = set(
        (await session.execute(select(RevokedToken.jti).where(RevokedToken.jti.in_(jtis))))
        .scalars()
        .all()
    )
    new = list({ref.jti: ref for ref in refs if ref.jti not in known}.values())
    if new:
        insert: Any = mysql.insert if _on_mysql(session) else _insert(session)
        statement = insert(RevokedToken).values(
            [
                {
                    "jti": ref.jti,
                    "user_id": ref.user_id,
                    "expires_at": ref.expires_at,
                    "revoked_at": now,
                    "reason": reason,
                }
                for ref in new
            ]
        )
        if _on_mysql(session):
            statement = statement.prefix_with("IGNORE")
        else:
            statement = statement.on_conflict_do_nothing(index_elements=["jti"])
        await session.execute(statement)
    return new


async def is_revoked(session: AsyncSession, jti: str) -> bool:
    """Whether the access token `jti` has been revoked."""
    query = select(RevokedToken.jti).where(RevokedToken.jti == jti)
    return (await session.execute(query)).first() is not None


async def revocations_since(
    session: AsyncSession, since: float, *, now: float
) -> list[tuple[str, float]]:
    """`(jti, expires_at)` of unexpired tokens revoked at or after `since`."""
    query = select(RevokedToken.jti, RevokedToken.expires_at).where(
        RevokedToken.revoked_at >= since, RevokedToken.expires_at > now
    )
    return [(jti, exp) for jti, exp in (await session.execute(query)).all()]


# Throttling of failed credentials (`mercato.auth.throttle`)


async def throttle_counts(
    session: AsyncSession, keys: Iterable[str], *, window: float, now: float
) -> dict[str, tuple[int, float]]:
    """`key -> (failures, window_started_at)` for the keys with a window still open."""
    query = select(
        ThrottleCounter.key, ThrottleCounter.failures, ThrottleCounter.window_started_at
    ).where(
        ThrottleCounter.key.in_(list(keys)),
        ThrottleCounter.window_started_at > now - window,
    )
    return {key: (failures, started) for key, failures, started in await session.execute(query)}


async def claim_slot(session: AsyncSession, key: str, *, interval: float, now: float) -> float:
    """Take the slot `key` if it was last taken `interval` seconds ago or more (atomically).

    Returns 0 when taken, else the seconds until it can be. The slot is a throttle row
    whose window start is the moment it was last taken.
    """
    if _on_mysql(session):
        if await _claim_slot_mysql(session, key, interval=interval, now=now):
            return 0.0
        statement = None
    else:
        statement = _claim_slot_statement(session, key, interval=interval, now=now)
    if statement is not None and (await session.execute(statement)).first() is not None:
        return 0.0
    query = select(ThrottleCounter.window_started_at).where(ThrottleCounter.key == key)
    taken_at = (await session.execute(query)).scalar_one_or_none()
    return interval if taken_at is None else max(taken_at + interval - now, 0.001)


def _claim_slot_statement(session: AsyncSession, key: str, *, interval: float, now: float) -> Any:
    """The one-statement claim: an upsert whose update is conditional, returning the key."""
    return (
        _insert(session)(ThrottleCounter)
        .values(key=key, failures=0, window_started_at=now)
        .on_conflict_do_update(
            index_elements=["key"],
            set_={"window_started_at": now},
            where=ThrottleCounter.window_started_at <= now - interval,
        )
        .returning(ThrottleCounter.key)
    )


async def _claim_slot_mysql(
    session: AsyncSession, key: str, *, interval: float, now: float
) -> bool:
    """The claim on MySQL: the row updated if its slot is free, else a new row.

    Update first: an `INSERT IGNORE` that meets the row takes a shared lock on it, and
    two claims holding it that then both update it deadlock. An update waits for the
    row's lock and checks its condition on the row as committed.
    """
    taken = (
        update(ThrottleCounter)
        .where(ThrottleCounter.key == key, ThrottleCounter.window_started_at <= now - interval)
        .values(window_started_at=now)
        .execution_options(synchronize_session=False)
    )
    if _rowcount(await session.execute(taken)) == 1:
        return True
    fresh = mysql.insert(ThrottleCounter).values(key=key, failures=0, window_started_at=now)
    return _rowcount(await session.execute(fresh.prefix_with("IGNORE"))) == 1


async def record_failure(
    session: AsyncSession, keys: Iterable[str], *, window: float, now: float
) -> None:
    """Count one failed login against each key, starting a new window when one ended."""
    fresh = ThrottleCounter.window_started_at > now - window
    for key in keys:
        if _on_mysql(session):
            # MySQL assigns in order, each seeing the ones before: `failures` first,
            # while `window_started_at` still holds the old start that `fresh` reads.
            upsert = mysql.insert(ThrottleCounter).values(
                key=key, failures=1, window_started_at=now
            )
            await session.execute(
                upsert.on_duplicate_key_update(
                    [
                        ("failures", case((fresh, ThrottleCounter.failures + 1), else_=1)),
                        (
                            "window_started_at",
                            case((fresh, ThrottleCounter.window_started_at), else_=now),
                        ),
                    ]
                )
            )
            continue
        statement = _insert(session)(ThrottleCounter).values(
            key=key, failures=1, window_started_at=now
        )
        statement = statement.on_conflict_do_update(
            index_elements=["key"],
            set_={
                "failures": case((fresh, ThrottleCounter.failures + 1), else_=1),
                "window_started_at": case((fresh, ThrottleCounter.window_started_at), else_=now),
            },
        )
        await session.execute(statement)


async def clear_failures(session: AsyncSession, key: str) -> None:
    """Forget the failures counted against `key`."""
    await session.execute(delete(ThrottleCounter).where(ThrottleCounter.key == key))


# Housekeeping


async def prune(session: AsyncSession, *, now: float, window: float, grace: float) -> None:
    """Delete expired revocations, refresh tokens and throttle windows."""
    await session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    await session.execute(
        delete(RefreshToken).where(
            and_(RefreshToken.expires_at < now - grace, RefreshToken.access_expires_at < now)
        )
    )
    await session.execute(
        delete(ThrottleCounter).where(ThrottleCounter.window_started_at <= now - window)
    )
