"""Start and stop of the auth service: keys, first admin, revocations, housekeeping.

At start (after the migrations): load or create the signing keys, build the
`AuthContext`, warm the revocation list from the `revoked_tokens` table, make sure
the first admin exists, and start the housekeeping loop. That loop picks up keys
rotated and tokens revoked by other replicas, and deletes what has expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from mercato.auth import service, store
from mercato.auth.context import AuthContext, passwords_for
from mercato.auth.keys import KeyStore
from mercato.auth.passwords import WeakPassword, check_password, random_password
from mercato.auth.schemas import normalize_email
from mercato.auth.settings import AuthSettings
from mercato.chassis.database import Database
from mercato.chassis.runtime import Runtime

__all__ = ["DEV_ADMIN_EMAIL", "auth_context", "bootstrap_admin", "key_store", "start", "stop"]

log = logging.getLogger("mercato.auth")
DEV_ADMIN_EMAIL = "admin@mercato.local"
CONTEXT = "auth"
MAINTENANCE = "auth.maintenance"
SYNC_OVERLAP = 5.0  # seconds re-read on each revocation sync, for clock skew


def settings_of(runtime: Runtime) -> AuthSettings:
    """The runtime's settings, which are auth's."""
    settings = runtime.settings
    if not isinstance(settings, AuthSettings):
        raise TypeError("the auth service needs AuthSettings")
    return settings


def key_store(runtime: Runtime) -> KeyStore:
    """The KeySource of auth's verifier: its own key table (`ServiceSpec.key_source`)."""
    settings = settings_of(runtime)
    return KeyStore(
        runtime.database,
        retention=settings.key_retention,
        passphrase=settings.signing_key_passphrase,
    )


def auth_context(runtime: Runtime) -> AuthContext:
    """The AuthContext built at start."""
    ctx = runtime.state.get(CONTEXT)
    if not isinstance(ctx, AuthContext):
        raise RuntimeError("the auth service has not started")
    return ctx


async def start(runtime: Runtime) -> None:
    """Startup hook: keys, context, revocations, first admin, housekeeping."""
    settings = settings_of(runtime)
    if runtime.outbox is None:
        raise RuntimeError("the auth spec needs its event tables")
    keys = runtime.verifier.keys
    if not isinstance(keys, KeyStore):  # verification swapped (a test key): still sign
        keys = key_store(runtime)
    await keys.start()
    ctx = AuthContext(
        settings=settings,
        keys=keys,
        passwords=passwords_for(settings),
        outbox=runtime.outbox,
        revocations=runtime.revocations,
    )
    await ctx.passwords.verify_dummy("")  # so the first unknown email takes no longer
    runtime.state[CONTEXT] = ctx
    synced = await _sync_revocations(runtime.database, ctx, since=0.0)
    await bootstrap_admin(runtime.database, ctx)
    runtime.state[MAINTENANCE] = asyncio.create_task(
        _maintain(runtime.database, ctx, synced), name="auth-maintenance"
    )


async def stop(runtime: Runtime) -> None:
    """Shutdown hook: stop the housekeeping loop."""
    task = runtime.state.pop(MAINTENANCE, None)
    if isinstance(task, asyncio.Task):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


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


async def _sync_revocations(db: Database, ctx: AuthContext, *, since: float) -> float:
    """Load revocations recorded since `since` into memory; returns the new mark."""
    now = ctx.clock()
    async with db.session() as session:
        rows = await store.revocations_since(session, since, now=now)
    for jti, expires_at in rows:
        ctx.revocations.revoke(jti, expires_at)
    return now - SYNC_OVERLAP


async def _maintain(db: Database, ctx: AuthContext, synced: float) -> None:
    interval = ctx.settings.maintenance_interval_seconds
    grace = 86_400.0
    while True:
        await asyncio.sleep(interval)
        try:
            await ctx.keys.refresh()
            synced = await _sync_revocations(db, ctx, since=synced)
            async with db.transaction() as session:
                await store.prune(
                    session,
                    now=ctx.clock(),
                    window=ctx.settings.login_window_seconds,
                    grace=grace,
                )
            await ctx.keys.prune()
            ctx.revocations.prune()
        except Exception:
            log.exception("auth housekeeping failed; retrying in %.0fs", interval)
