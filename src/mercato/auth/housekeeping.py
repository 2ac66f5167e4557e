"""Auth's start-up and housekeeping: the context, the first admin, fresh revocations and keys.

At start (`open_context`, the spec's `context`, after the migrations) the signing
keys are loaded or created, the revocation list is warmed from the `revoked_tokens`
table and the first admin is made sure of. Then the housekeeping task (declared in
`auth.app`) picks up, every `maintenance_interval_seconds`, keys rotated and tokens
revoked by other replicas, and deletes what has expired.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mercato.auth import service, store
from mercato.auth.context import AuthContext, AuthRuntime, passwords_for
from mercato.auth.keys import KeyStore
from mercato.auth.passwords import WeakPassword, check_password, random_password
from mercato.auth.schemas import normalize_email
from mercato.chassis.data.database import Database

__all__ = [
    "DEV_ADMIN_EMAIL",
    "bootstrap_admin",
    "housekeep",
    "key_store",
    "open_context",
    "sync_revocations",
]

log = logging.getLogger("mercato.auth")
DEV_ADMIN_EMAIL = "admin@mercato.local"
SYNC_OVERLAP = 5.0  # seconds re-read on each revocation sync, for clock skew
REFRESH_GRACE = 86_400.0  # seconds an expired refresh token is kept (its reuse is recognised)


async def bootstrap_admin(db: Database, ctx: AuthContext) -> None:
    """Make sure the configured first admin exists (in development, invent one)."""
    settings = ctx.settings
    production = settings.env == "production"
    email = normalize_email(settings.admin_email) if settings.admin_email else ""
    password = settings.admin_password
    if production and not (email and password):
        log.info(
            "no admin configured (MERCATO_ADMIN_EMAIL/MERCATO_ADMIN_PASSWORD); "
            "create one with `mercato create-admin`"
        )
        return
    email = email or DEV_ADMIN_EMAIL
    generated = not password
    if generated:
        password = random_password()
    else:
        try:
            check_password(password, email=email)
        except WeakPassword as error:
            if production:
                raise RuntimeError(f"MERCATO_ADMIN_PASSWORD is too weak: {error}") from None
            log.warning("the configured admin password is weak: %s", error)
    async with db.session() as session:
        created = await service.ensure_admin(
            session,
            email=email,
            password=password,
            passwords=ctx.passwords,
            outbox=ctx.outbox,
            now=ctx.clock(),
        )
    if created and generated:
        print(  # shown once, on purpose, to the developer at the terminal
            f"mercato auth: created admin {email} with password {password} "
            "(shown once; set MERCATO_ADMIN_EMAIL/MERCATO_ADMIN_PASSWORD to choose)",
            flush=True,
        )
        # The password goes to the terminal only: log lines are shipped and kept.
        log.warning("created development admin %s (its password is on the terminal)", email)
    elif created:
        log.info("created admin %s", email)


async def sync_revocations(db: Database, ctx: AuthContext) -> None:
    """Load the revocations recorded since the last sync into this process's list."""
    now = ctx.clock()
    async with db.session() as session:
        rows = await store.revocations_since(session, ctx.revocations_synced, now=now)
    for jti, expires_at in rows:
        ctx.revocations.revoke(jti, expires_at)
    ctx.revocations_synced = now - SYNC_OVERLAP


async def housekeep(runtime: AuthRuntime) -> None:
    """One round of housekeeping (the `auth-housekeeping` background task)."""
    ctx = runtime.context
    await ctx.keys.refresh()
    await sync_revocations(runtime.database, ctx)
    async with runtime.database.transaction() as session:
        await store.prune(
            session,
            now=ctx.clock(),
            window=ctx.settings.login_window_seconds,
            grace=REFRESH_GRACE,
        )
    await ctx.keys.prune()
    ctx.revocations.prune()


def key_store(runtime: AuthRuntime) -> KeyStore:
    """The KeySource of auth's verifier: its own key table (`ServiceSpec.key_source`)."""
    settings = runtime.settings
    return KeyStore(
        runtime.database,
        retention=settings.key_retention,
        passphrase=settings.signing_key_passphrase,
    )


@asynccontextmanager
async def open_context(runtime: AuthRuntime) -> AsyncIterator[AuthContext]:
    """Keys, hasher, throttles, revocations and the first admin: auth's start."""
    keys = runtime.verifier.keys
    if not isinstance(keys, KeyStore):  # verification swapped (a test key): still sign
        keys = key_store(runtime)
    await keys.start()
    ctx = AuthContext(
        settings=runtime.settings,
        keys=keys,
        passwords=passwords_for(runtime.settings),
        outbox=runtime.outbox,
        revocations=runtime.revocations,
    )
    await ctx.passwords.verify_dummy("")  # so the first unknown email takes no longer
    await sync_revocations(runtime.database, ctx)
    await bootstrap_admin(runtime.database, ctx)
    yield ctx
