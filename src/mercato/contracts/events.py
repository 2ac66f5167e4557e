"""Versioned schemas of every domain event's `data`, keyed by (type, version).

Rules for changing a schema: adding an optional field is compatible and keeps the
version; renaming, removing or retyping a field, or adding a required one, needs a
new version registered beside the old one until every consumer has moved.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "SCHEMAS",
    "EventData",
    "ProductChanged",
    "ProductDeleted",
    "ProfileUpdated",
    "TokenRevoked",
    "UserRegistered",
    "UserRolesChanged",
    "validate",
]


class EventData(BaseModel):
    """Base of event payloads: unknown fields are allowed (producers may add)."""

    model_config = ConfigDict(extra="allow", frozen=True)


class UserRegistered(EventData):
    """`user.registered` v1, from auth: a new account exists."""

    user_id: str
    email: str
    name: str
    roles: list[str]


class UserRolesChanged(EventData):
    """`user.roles_changed` v1, from auth."""

    user_id: str
    roles: list[str]


class ProfileUpdated(EventData):
    """`user.profile_updated` v1, from users: these profile fields changed."""

    user_id: str
    changed: list[str]


class TokenRevoked(EventData):
    """`auth.token_revoked` v1, from auth: refuse this access token until it expires."""

    jti: str
    user_id: str
    expires_at: float
    reason: str = "logout"


class Money(BaseModel):
    """An amount in minor units of an ISO 4217 currency."""

    model_config = ConfigDict(frozen=True)

    amount: int
    currency: str


class ProductChanged(EventData):
    """`product.created` / `product.updated` v1, from catalog."""

    product_id: str
    sku: str
    title: str
    price: Money
    stock: int
    category: str | None = None


class ProductDeleted(EventData):
    """`product.deleted` v1, from catalog."""

    product_id: str
    sku: str


SCHEMAS: dict[tuple[str, int], type[EventData]] = {
    ("user.registered", 1): UserRegistered,
    ("user.roles_changed", 1): UserRolesChanged,
    ("user.profile_updated", 1): ProfileUpdated,
    ("auth.token_revoked", 1): TokenRevoked,
    ("product.created", 1): ProductChanged,
    ("product.updated", 1): ProductChanged,
    ("product.deleted", 1): ProductDeleted,
}


def validate(event_type: str, version: int, data: dict[str, Any]) -> EventData | None:
    """Validate `data` against its schema; None when no schema is registered."""
    schema = SCHEMAS.get((event_type, version))
    return None if schema is None else schema.model_validate(data)
