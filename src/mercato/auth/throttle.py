"""Throttling of failed credentials: an attacker slows only themselves.

A hard lockout per account is a weapon: five wrong passwords from anywhere would lock
the owner out. Instead (the throttling of OWASP's authentication cheat sheet),
failures are counted in fixed windows against three keys:

- the account (or client id) *and* the source address: over `per_pair` failures,
  attempts on that account from that address are refused (429) until the window ends.
  The owner, from their own address, is not affected;
- the source address, over every account: over `per_source`, that address is refused.
  This stops one address from spraying passwords over many accounts;
- the account from everywhere, a last resort against guessing spread over many
  addresses: over `per_subject` it is not locked but slowed, to one attempt per
  `slowdown` seconds (the slot is taken atomically, so replicas and concurrent
  requests agree). The owner gets in on a retry; a botnet gets one guess per slot.

A refused attempt is answered before any password is hashed, and is not counted. A
success clears the account-and-source count (not the source's, or an attacker could
reset it with an account of their own, nor the account's, or the owner's login
would reopen the door to the distributed guessing).

Logins and client credentials (`/api/auth/token`) are throttled alike with keys of
their own (`kind`), so that failed logins never hold up the services' token requests.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.auth import store
from mercato.chassis.web.errors import TooManyRequests

__all__ = ["Throttle", "ThrottleLimits"]

MAX_KEY_LENGTH = 400  # the column's length


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    """How many failures each key may have in a window, and the last resort's pace."""

    per_pair: int
    per_source: int
    per_subject: int
    slowdown: float
    window: float


def _key(prefix: str, *parts: str) -> str:
    key = f"{prefix}:" + "|".join(parts)
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return f"{prefix}#" + hashlib.sha256("|".join(parts).encode()).hexdigest()


def _refused(seconds: float, detail: str) -> TooManyRequests:
    wait = max(1, math.ceil(seconds))
    return TooManyRequests(
        f"{detail}; try again in {wait} seconds.", headers={"Retry-After": str(wait)}
    )


class Throttle:
    """Failed-credential throttling of one kind (`login`, `token`)."""

    def __init__(self, kind: str, limits: ThrottleLimits) -> None:
        self.kind = kind
        self.limits = limits

    def _pair(self, subject: str, source: str) -> str:
        return _key(f"{self.kind}-pair", subject, source)

    def _source(self, source: str) -> str:
        return _key(f"{self.kind}-source", source)

    def _subject(self, subject: str) -> str:
        return _key(f"{self.kind}-subject", subject)

    def _slot(self, subject: str) -> str:
        return _key(f"{self.kind}-slot", subject)

    async def admit(self, session: AsyncSession, *, subject: str, source: str, now: float) -> None:
        """Refuse (TooManyRequests with Retry-After) an attempt that must wait."""
        limits = self.limits
        pair, by_source, by_subject = (
            self._pair(subject, source),
            self._source(source),
            self._subject(subject),
        )
        counts = await store.throttle_counts(
            session, [pair, by_source, by_subject], window=limits.window, now=now
        )
        wait = 0.0
        for key, limit in ((pair, limits.per_pair), (by_source, limits.per_source)):
            failures, started = counts.get(key, (0, now))
            if failures >= limit:
                wait = max(wait, started + limits.window - now)
        if wait:
            raise _refused(wait, "Too many failed attempts from this address")
        if counts.get(by_subject, (0, now))[0] >= limits.per_subject:
            wait = await store.claim_slot(
                session, self._slot(subject), interval=limits.slowdown, now=now
            )
            if wait:
                raise _refused(wait, "Too many failed attempts on this account; slowed down")

    async def failed(self, session: AsyncSession, *, subject: str, source: str, now: float) -> None:
        """Count a failed attempt against the pair, the source and the subject."""
        keys = [self._pair(subject, source), self._source(source), self._subject(subject)]
        await store.record_failure(session, keys, window=self.limits.window, now=now)

    async def succeeded(self, session: AsyncSession, *, subject: str, source: str) -> None:
        """Forget the pair's failures (the owner is in)."""
        await store.clear_failures(session, self._pair(subject, source))
