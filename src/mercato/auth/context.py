"""The auth service's per-process context: what its domain functions need.

Built once at start by `housekeeping.open_context` (the spec's `context`): the
signing keys, the password hasher, the throttles and the revocation list. Routes get
it through a dependency; tests may swap its clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.auth.keys import KeyStore
from mercato.auth.passwords import Passwords
from mercato.auth.settings import AuthSettings
from mercato.auth.store import AccessRef
from mercato.auth.throttle import Throttle, ThrottleLimits
from mercato.chassis.events import Outbox
from mercato.chassis.runtime import Runtime
from mercato.chassis.security.tokens import RevocationList

__all__ = [
    "AuthContext",
    "AuthRuntime",
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
