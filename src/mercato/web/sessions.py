"""Shoppers' sessions: kept server-side, found by the hash of a random cookie value.

A browser holds only `mercato_session` (or `__Host-mercato_session` over HTTPS): a
random value of 256 bits whose SHA-256 is the row's key. Everything else stays here:
the shopper's access and refresh tokens, their id, name and roles, the CSRF secret of
their forms, an idle expiry (moved by each use, at most once a minute) and an absolute
one. A visitor gets a session only when a page needs one (a form's CSRF token, a
message for the next page); signing in always starts a new one (no fixation).

The tokens are stored sealed under a key that only the cookie's value gives
(`sealing`): a copy of the table holds no usable token either. A page's `Seal` comes
from the cookie it was sent with (or the one it is about to set).

Tokens are refreshed behind the scenes when the access token has expired or is about
to. Two requests of one shopper at once must not both send the same refresh token:
auth would take the second use for a stolen token and revoke the whole family. So a
refresh is serialized per session: in the process by a lock per session, and across
replicas by a claim on the row (`store.claim_refresh`, an UPDATE only one request
wins). A request that finds the claim taken waits for the new tokens, or uses the
current access token while it is still valid.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from mercato.chassis.data.database import Database
from mercato.web import store
from mercato.web.api import auth
from mercato.web.api.backend import ApiError, BackendDown, Caller
from mercato.web.models import SessionRecord
from mercato.web.sealing import Seal, Unsealable
from mercato.web.settings import WebSettings

__all__ = [
    "COOKIE",
    "SECURE_COOKIE",
    "SessionEnded",
    "Sessions",
    "SignedIn",
    "hash_id",
    "seal_of",
]

log = logging.getLogger("mercato.web.sessions")
COOKIE = "mercato_session"
SECURE_COOKIE = "__Host-mercato_session"
TOUCH_EVERY = timedelta(seconds=60)
CLAIM_FOR = timedelta(seconds=15)  # longer than a refresh call may take
WAIT_STEP = 0.05
Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def hash_id(value: str) -> str:
    """The key a cookie value is stored under."""
    return hashlib.sha256(value.encode()).hexdigest()


def seal_of(cookie_value: str) -> Seal:
    """The seal of the session a cookie's value names."""
    return Seal(cookie_value, hash_id(cookie_value))


class SessionEnded(Exception):
    """The shopper's sign-in is over (auth refused the refresh token): sign in again."""


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who signed in, with the tokens auth gave them."""

    user_id: str
    name: str
    email: str
    roles: tuple[str, ...]
    tokens: auth.Tokens


class Sessions:
    """The sessions of this process's shoppers: create, find, refresh, end."""

    def __init__(self, database: Database, settings: WebSettings, *, clock: Clock = _now) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    # -- finding and starting ---------------------------------------------------

    async def find(self, cookie_value: str | None) -> SessionRecord | None:
        """The live session of a cookie's value; None for none, an unknown or an ended one."""
        if not cookie_value or len(cookie_value) > 100:
            return None
        id_hash = hash_id(cookie_value)
        now = self.clock()
        async with self.database.session() as db:
            record = await store.session_by_hash(db, id_hash)
            if record is None:
                return None
            if record.idle_expires_at <= now or record.absolute_expires_at <= now:
                await store.delete_session(db, id_hash)
                return None
            if now - record.last_seen_at >= TOUCH_EVERY:
                idle = self._idle(record.user_id is not None)
                expires = min(now + idle, record.absolute_expires_at)
                await store.touch(db, id_hash, now=now, idle_expires_at=expires)
                record.last_seen_at, record.idle_expires_at = now, expires
        return record

    def _idle(self, signed_in: bool) -> timedelta:
        seconds = (
            self.settings.session_idle_seconds if signed_in else self.settings.visitor_idle_seconds
        )
        return timedelta(seconds=seconds)

    async def start(self, signed_in: SignedIn | None = None) -> tuple[str, SessionRecord]:
        """A new session (a shopper's, or a visitor's): its cookie value and its row."""
        value = secrets.token_urlsafe(32)
        now = self.clock()
        record = SessionRecord(
            id_hash=hash_id(value),
            csrf_secret=secrets.token_urlsafe(32),
            user_id=None,
            user_name="",
            user_email="",
            roles="",
            created_at=now,
            last_seen_at=now,
            idle_expires_at=now + self._idle(signed_in is not None),
            absolute_expires_at=now + timedelta(seconds=self.settings.session_absolute_seconds),
        )
        if signed_in is not None:
            seal = seal_of(value)
            record.user_id = signed_in.user_id
            record.user_name = signed_in.name
            record.user_email = signed_in.email
            record.roles = ",".join(signed_in.roles)
            record.access_token = seal.close(signed_in.tokens.access_token)
            record.refresh_token = seal.close(signed_in.tokens.refresh_token)
            record.access_expires_at = now + timedelta(seconds=signed_in.tokens.expires_in)
        async with self.database.session() as db:
            await store.insert_session(db, record)
        return value, record

    async def end(self, record: SessionRecord) -> None:
        """Forget a session."""
        async with self.database.session() as db:
            await store.delete_session(db, record.id_hash)

    async def rename(self, record: SessionRecord, name: str) -> None:
        """The signed-in shopper's new name, for the pages from now on."""
        async with self.database.session() as db:
            await store.rename(db, record.id_hash, name)
        record.user_name = name

    async def flash(self, record: SessionRecord, message: str | None) -> None:
        """Leave `message` for the next page this session shows (None: clear it)."""
        async with self.database.session() as db:
            await store.set_flash(db, record.id_hash, message)
        record.flash = message

    async def keep_cart(self, record: SessionRecord, cart: str | None) -> None:
        """Keep a visitor's cart (`guest_cart.dump`'s form; None: empty) in their session."""
        async with self.database.session() as db:
            await store.set_cart(db, record.id_hash, cart)
        record.cart = cart

    # -- tokens -----------------------------------------------------------------

    def _fresh(self, record: SessionRecord, now: datetime) -> bool:
        margin = timedelta(seconds=self.settings.refresh_margin_seconds)
        expires = record.access_expires_at
        return record.access_token is not None and expires is not None and expires - margin > now

    async def access_token(self, record: SessionRecord, caller: Caller, seal: Seal) -> str:
        """A valid access token of a signed-in session, refreshed first when needed.

        `caller` is the visitor's side of the backend (no token), for the refresh call;
        `seal` the session's, from its cookie. SessionEnded when auth refuses the
        refresh token or the stored tokens do not open; BackendDown when auth is down
        and the current token has expired.
        """
        try:
            if self._fresh(record, self.clock()):
                assert record.access_token is not None
                return seal.open(record.access_token)
            async with self._lock(record.id_hash):
                return await self._refreshed(record, caller, seal)
        except Unsealable as exc:
            log.info("a session's tokens do not open (%s): the session ends", exc)
            await self.end(record)
            raise SessionEnded from exc

    async def _refreshed(self, record: SessionRecord, caller: Caller, seal: Seal) -> str:
        """Under this process's lock: the claim on the row, the refresh, or the wait."""
        deadline = asyncio.get_running_loop().time() + CLAIM_FOR.total_seconds()
        while True:
            now = self.clock()
            async with self.database.session() as db:
                current = await store.session_by_hash(db, record.id_hash)
                if current is None or current.refresh_token is None:
                    raise SessionEnded
                _copy_tokens(current, record)
                if self._fresh(current, now):  # another request has just refreshed
                    assert current.access_token is not None
                    return seal.open(current.access_token)
                claimed = await store.claim_refresh(
                    db,
                    record.id_hash,
                    refresh_token=current.refresh_token,
                    now=now,
                    until=now + CLAIM_FOR,
                )
            if claimed:
                return await self._rotate(record, seal.open(current.refresh_token), caller, seal)
            valid = record.access_expires_at is not None and record.access_expires_at > now
            if valid and record.access_token is not None:
                return seal.open(record.access_token)  # still good while another rotates
            if asyncio.get_running_loop().time() > deadline:
                raise BackendDown("auth", "the tokens are being refreshed by another request")
            await asyncio.sleep(WAIT_STEP)

    async def _rotate(
        self, record: SessionRecord, refresh_token: str, caller: Caller, seal: Seal
    ) -> str:
        """Send the refresh token once, keep the new pair (or end the session)."""
        try:
            tokens = await auth.refresh(caller, refresh_token=refresh_token)
        except ApiError as exc:
            log.info("refresh refused (%s): the session ends", exc.status)
            await self.end(record)
            raise SessionEnded from exc
        except BackendDown:
            async with self.database.session() as db:
                await store.release_claim(db, record.id_hash)
            now = self.clock()
            if record.access_token and record.access_expires_at and record.access_expires_at > now:
                return seal.open(record.access_token)
            raise
        expires = self.clock() + timedelta(seconds=tokens.expires_in)
        access, refresh = seal.close(tokens.access_token), seal.close(tokens.refresh_token)
        async with self.database.session() as db:
            await store.store_tokens(
                db,
                record.id_hash,
                access_token=access,
                refresh_token=refresh,
                access_expires_at=expires,
            )
        record.access_token, record.refresh_token = access, refresh
        record.access_expires_at = expires
        return tokens.access_token

    @asynccontextmanager
    async def _lock(self, id_hash: str) -> AsyncIterator[None]:
        """This process's lock of one session, dropped when nobody holds or waits for it."""
        lock, users = self._locks.get(id_hash) or (asyncio.Lock(), 0)
        self._locks[id_hash] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[id_hash]
            if users == 1:
                del self._locks[id_hash]
            else:
                self._locks[id_hash] = (lock, users - 1)

    async def delete_expired(self) -> int:
        """Delete every ended session; how many (the housekeeping task)."""
        async with self.database.session() as db:
            return await store.delete_expired(db, now=self.clock())


def _copy_tokens(source: SessionRecord, target: SessionRecord) -> None:
    target.access_token = source.access_token
    target.refresh_token = source.refresh_token
    target.access_expires_at = source.access_expires_at
