"""Domain logic of the users service: profiles created, read, changed and listed.

Functions take keyword-only arguments and raise `mercato.chassis.web.errors` problems.
Those called from routes commit; `register_profile` runs inside the caller's
transaction (the event consumer's, with its inbox row).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import JsonValue
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from mercato.chassis.data.database import Database
from mercato.chassis.events import Outbox
from mercato.chassis.security.tokens import Principal
from mercato.chassis.web.errors import Conflict, Forbidden, NotFound, Unprocessable, field_error
from mercato.chassis.web.paging import Page, decode_time_cursor
from mercato.contracts.events import ProfileUpdated
from mercato.users import store
from mercato.users.models import Profile, ProfileRow
from mercato.users.schemas import AddressIn, ProfilePatch

__all__ = [
    "MAX_PREFERENCE_BYTES",
    "MAX_PREFERENCE_KEYS",
    "PROFILE_UPDATED",
    "Identity",
    "get_own_profile",
    "get_profile",
    "identity_of",
    "list_profiles",
    "merge_preferences",
    "register_profile",
    "resolve_addresses",
    "update_own_profile",
]

PROFILE_UPDATED = ProfileUpdated.TYPE
MAX_PREFERENCE_BYTES = 4096
MAX_PREFERENCE_KEYS = 50


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a profile belongs to, as auth knows them."""

    user_id: str
    email: str
    name: str


def _now() -> datetime:
    return datetime.now(UTC)


def _claim(principal: Principal, name: str, limit: int) -> str:
    value = principal.claims.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def identity_of(principal: Principal) -> Identity:
    """The identity a user's token claims; services have no profile of their own."""
    if principal.is_service:
        raise Forbidden("A service token has no profile; look profiles up by id.")
    return Identity(
        user_id=principal.subject,
        email=_claim(principal, "email", 320),
        name=_claim(principal, "name", 200),
    )


async def register_profile(session: AsyncSession, *, identity: Identity) -> bool:
    """Create the profile if absent, else fill only still-empty email and name."""
    now = _now()
    created = await store.insert_if_absent(
        session, user_id=identity.user_id, email=identity.email, name=identity.name, now=now
    )
    if created:
        return True
    changed = False
    if identity.email:
        changed |= await store.fill_blank(
            session, user_id=identity.user_id, field="email", value=identity.email, now=now
        )
    if identity.name:
        changed |= await store.fill_blank(
            session, user_id=identity.user_id, field="name", value=identity.name, now=now
        )
    return changed


async def _ensure(session: AsyncSession, identity: Identity) -> tuple[Profile, bool]:
    """The caller's profile, inserted (uncommitted) when missing; whether it was."""
    profile = await store.get(session, identity.user_id)
    if profile is not None:
        return profile, False
    await store.insert_if_absent(
        session, user_id=identity.user_id, email=identity.email, name=identity.name, now=_now()
    )
    profile = await store.get(session, identity.user_id)
    if profile is None:  # pragma: no cover - the insert above guarantees a row
        raise RuntimeError(f"profile {identity.user_id} vanished")
    return profile, True


async def get_own_profile(database: Database, *, identity: Identity) -> Profile | ProfileRow:
    """The caller's profile, created from their token's claims when still missing.

    An existing profile is a direct read (one statement on the driver, see
    `chassis.data.driver_reads`): this is the hottest read of the service.
    """
    row = await store.read(database.reader, identity.user_id)
    if row is not None:
        return row
    async with database.session() as session:
        profile, created = await _ensure(session, identity)
        if created:
            await session.commit()
        return profile


async def get_profile(session: AsyncSession, *, user_id: str) -> Profile:
    """The profile of `user_id`; 404 when there is none."""
    profile = await store.get(session, user_id)
    if profile is None:
        raise NotFound(f"No profile for user {user_id}.")
    return profile


def merge_preferences(
    current: dict[str, Any], changes: dict[str, JsonValue]
) -> dict[str, JsonValue]:
    """Merge `changes` into `current` (null removes a key); 422 when too large."""
    merged: dict[str, JsonValue] = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > MAX_PREFERENCE_KEYS:
        raise Unprocessable(
            f"At most {MAX_PREFERENCE_KEYS} preferences are kept.",
            errors=[field_error("preferences", "too many keys", type="too_long")],
        )
    if len(orjson.dumps(merged)) > MAX_PREFERENCE_BYTES:
        raise Unprocessable(
            f"Preferences may take at most {MAX_PREFERENCE_BYTES} bytes as JSON.",
            errors=[field_error("preferences", "too large", type="too_long")],
        )
    return merged


def resolve_addresses(
    current: list[dict[str, Any]], addresses: list[AddressIn]
) -> list[dict[str, Any]]:
    """The new address list: sent ids must exist already; new addresses get an id."""
    known = {str(address["id"]) for address in current}
    errors = [
        field_error(
            f"addresses.{index}.id",
            "no such address; omit id to add a new one",
            type="value_error",
        )
        for index, address in enumerate(addresses)
        if address.id is not None and address.id not in known
    ]
    if errors:
        raise Unprocessable("Unknown address ids.", errors=errors)
    return [{**address.model_dump(), "id": address.id or uuid.uuid4().hex} for address in addresses]


def _apply(profile: Profile, patch: ProfilePatch) -> list[str]:
    sent = patch.model_fields_set
    new: dict[str, Any] = {}
    if "name" in sent:
        new["name"] = patch.name
    if "bio" in sent:
        new["bio"] = patch.bio or None
    if "avatar_url" in sent:
        new["avatar_url"] = None if patch.avatar_url is None else str(patch.avatar_url)
    if "preferences" in sent:
        new["preferences"] = merge_preferences(profile.preferences, patch.preferences.changes())
    if "addresses" in sent:
        new["addresses"] = resolve_addresses(profile.addresses, patch.addresses)
    changed = [field for field, value in new.items() if getattr(profile, field) != value]
    for field in changed:
        setattr(profile, field, new[field])
    return changed


async def update_own_profile(
    session: AsyncSession, *, outbox: Outbox, identity: Identity, patch: ProfilePatch
) -> Profile:
    """Apply `patch` to the caller's profile and record `user.profile_updated`."""
    profile, _ = await _ensure(session, identity)
    changed = _apply(profile, patch)
    try:
        if changed:
            profile.updated_at = _now()
            await session.flush()  # the version check, before the event is written
            data = ProfileUpdated(user_id=profile.user_id, changed=changed)
            await outbox.add(session, data, subject=profile.user_id)
        await session.commit()
    except StaleDataError:
        raise Conflict("The profile was changed concurrently; read it again and retry.") from None
    return profile


async def list_profiles(
    session: AsyncSession, *, email: str | None, limit: int, cursor: str | None
) -> Page[Profile]:
    """Profiles newest first, optionally with one email (any case), keyset paged."""
    return await store.page(session, email=email, limit=limit, after=decode_time_cursor(cursor))
