"""The auth service's per-process context: what its domain functions need.

Built once at start by `open_context` (the spec's `context`): the signing keys, the
password hasher, the throttles, the revocation list warmed from the database, and
the first admin made sure of. Routes get it through a dependency; tests may swap
its clock.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.auth import housekeeping
from mercato.auth.keys import KeyStore
from mercato.auth.passwords import Passwords
from mercato.auth.settings import AuthSettings
from mercato.auth.store import AccessRef
from mercato.auth.throttle import Throttle, ThrottleLimits
from mercato.chassis.events import Outbox
from mercato.chassis.runtime import Runtime
from mercato.chassis.security import RevocationList

__all__ = [
    "AuthContext",
    "AuthRuntime",
    "key_store",
    "open_context",
    "passwords_for",
    "release",
    "throttle_limits",
]


@dataclass
class AuthContext:
    """What auth's domain functions need from the process, built once at start."""

    settings: AuthSettings
    keys: KeyStore
    passwords: Passwords
    outbox: Outbox
    revocations: RevocationList
    clock: Callable[[], float] = field(default=time.time)
    revocations_synced: float = 0.0  # revocations recorded before it are loaded
    logins: Throttle = field(init=False)
    client_credentials: Throttle = field(init=False)

    def __post_init__(self) -> None:
        limits = throttle_limits(self.settings)
        self.logins = Throttle("login", limits)
        self.client_credentials = Throttle("token", limits)

    def remember(self, refs: Iterable[AccessRef]) -> None:
        """Refuse these tokens in this process from now on."""
        for ref in refs:
            self.revocations.revoke(ref.jti, ref.expires_at)


def throttle_limits(settings: AuthSettings) -> ThrottleLimits:
    """The failed-credential limits of `settings` (logins and client credentials alike)."""
    return ThrottleLimits(
        per_pair=settings.login_max_failures_per_account_source,
        per_source=settings.login_max_failures_per_source,
        per_subject=settings.login_max_failures_per_account,
        slowdown=settings.login_account_slowdown_seconds,
        window=settings.login_window_seconds,
    )


def passwords_for(settings: AuthSettings) -> Passwords:
    """The password hasher configured by `settings`."""
    return Passwords(
        time_cost=settings.password_time_cost,
        memory_kib=settings.password_memory_kib,
        parallelism=settings.password_parallelism,
        concurrency=settings.password_hash_concurrency,
        queue=settings.password_hash_queue,
    )


async def release(session: AsyncSession) -> None:
    """End the (read-only) transaction so that no connection is held while hashing."""
    await session.commit()


AuthRuntime = Runtime[AuthSettings, AuthContext]


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
    await housekeeping.sync_revocations(runtime.database, ctx)
    await housekeeping.bootstrap_admin(runtime.database, ctx)
    yield ctx
