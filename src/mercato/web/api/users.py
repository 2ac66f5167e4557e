"""Calls to users: the shopper's own profile and its addresses (`/api/users/me`).

The users API keeps addresses inside the profile and replaces the whole list on a
PATCH: an address is kept by sending its `id`, added by sending one without, removed
by leaving it out. `add_address` and `remove_address` do that from the list just read.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from mercato.web.api.backend import Caller
from mercato.web.api.orders import ShippingAddress

__all__ = ["Address", "NewAddress", "Profile", "add_address", "me", "remove_address", "rename"]


class Address(ShippingAddress):
    """A stored postal address of the profile: where an order can go, with its id."""

    id: str
    label: str | None = None
    is_default: bool = False

    def kept(self) -> dict[str, Any]:
        """This address as a PATCH sends it to keep it unchanged."""
        return self.model_dump()


class NewAddress(BaseModel):
    """An address to add: who receives mail, street, city, postal code, country."""

    model_config = ConfigDict(frozen=True)

    name: str
    line1: str
    city: str
    postal_code: str | None
    country: str


class Profile(BaseModel):
    """The shopper's profile."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    email: str
    name: str
    addresses: tuple[Address, ...] = ()


async def me(caller: Caller) -> Profile:
    """The caller's profile (created by users on first read)."""
    return Profile.model_validate(await caller.call("users", "GET", "/api/users/me"))


async def _patch(caller: Caller, changes: dict[str, Any]) -> Profile:
    body = await caller.call("users", "PATCH", "/api/users/me", json=changes)
    return Profile.model_validate(body)


async def rename(caller: Caller, *, name: str) -> Profile:
    """Change the name the shopper is addressed by (422: `errors` say why)."""
    return await _patch(caller, {"name": name})


async def add_address(caller: Caller, profile: Profile, address: NewAddress) -> Profile:
    """Add `address` to those of `profile` (422: a field, or more than ten addresses)."""
    kept = [a.kept() for a in profile.addresses]
    return await _patch(caller, {"addresses": [*kept, address.model_dump()]})


async def remove_address(caller: Caller, profile: Profile, address_id: str) -> Profile:
    """Remove the address `address_id` from those of `profile` (absent: no change)."""
    kept = [a.kept() for a in profile.addresses if a.id != address_id]
    return await _patch(caller, {"addresses": kept})
