"""API shapes of the users service (never ORM classes), and the JSON body of a profile."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AnyUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictBool,
    StringConstraints,
    UrlConstraints,
    field_validator,
    model_validator,
)

from mercato.chassis.data.driver_reads import row_of
from mercato.chassis.web.paging import Page
from mercato.users.countries import is_country_code
from mercato.users.models import Profile, ProfileRow

__all__ = [
    "MAX_ADDRESSES",
    "AddressIn",
    "AddressOut",
    "PreferencesIn",
    "ProfileOut",
    "ProfilePage",
    "ProfilePatch",
    "profile_body",
]

MAX_ADDRESSES = 10
PREFERENCE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
PHONE = re.compile(r"^\+?[0-9][0-9 ().-]*$")


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


Required200 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Required100 = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Optional200 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)]
Optional100 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Optional50 = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
PostalCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=20, pattern=r"^([A-Za-z0-9][A-Za-z0-9 -]*)?$"
    ),
]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]
MAX_URL = 2048  # the column's width


def _fits_column(url: AnyUrl) -> AnyUrl:
    # The limit applies to the URL as given; normalising it (a `/` after a bare host)
    # can make it longer than the column, which PostgreSQL refused with a 500.
    if len(str(url)) > MAX_URL:
        raise ValueError(f"URL should have at most {MAX_URL} characters")
    return url


WebUrl = Annotated[
    AnyUrl,
    UrlConstraints(max_length=MAX_URL, allowed_schemes=["http", "https"], host_required=True),
    AfterValidator(_fits_column),
]
AddressId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
CurrencyCode = Annotated[str, BeforeValidator(_upper), StringConstraints(pattern=r"^[A-Z]{3}$")]
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")]


class AddressIn(BaseModel):
    """A postal address as a client sends it; omit `id` to add a new one."""

    model_config = ConfigDict(extra="forbid")

    id: AddressId | None = None
    label: Optional50 | None = None
    name: Required200
    line1: Required200
    line2: Optional200 | None = None
    city: Required100
    region: Optional100 | None = None
    postal_code: PostalCode | None = None
    country: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True)]
    phone: Phone | None = None
    is_default: StrictBool = False

    @field_validator("label", "line2", "region", "postal_code", "phone")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if not is_country_code(value):
            raise ValueError("must be an ISO 3166-1 alpha-2 country code, such as DE or US")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        digits = sum(ch.isdigit() for ch in value)
        if not PHONE.match(value) or not 5 <= digits <= 15:
            raise ValueError("must be a phone number of 5 to 15 digits, such as +49 30 1234567")
        return value


class PreferencesIn(BaseModel):
    """Preferences to merge: known keys are typed, others are free JSON; null removes."""

    model_config = ConfigDict(extra="allow")

    newsletter: StrictBool | None = None
    currency: CurrencyCode | None = None
    language: LanguageTag | None = None

    @model_validator(mode="after")
    def _keys(self) -> PreferencesIn:
        for key in self.model_extra or {}:
            if not PREFERENCE_KEY.match(key):
                raise ValueError(
                    f"preference key {key!r} must start with a letter and hold at most "
                    "64 letters, digits, '_', '.' or '-'"
                )
        return self

    def changes(self) -> dict[str, JsonValue]:
        """The keys the client sent, with their values (None means remove)."""
        changes: dict[str, JsonValue] = self.model_dump(exclude_unset=True)
        return changes


class ProfilePatch(BaseModel):
    """A partial update of the caller's own profile; only sent fields change."""

    model_config = ConfigDict(extra="forbid")

    name: Required200 = ""
    bio: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None
    avatar_url: WebUrl | None = None
    preferences: PreferencesIn = Field(default_factory=PreferencesIn)
    addresses: list[AddressIn] = Field(default_factory=list, max_length=MAX_ADDRESSES)

    @field_validator("addresses")
    @classmethod
    def _addresses(cls, value: list[AddressIn]) -> list[AddressIn]:
        if sum(address.is_default for address in value) > 1:
            raise ValueError("at most one address may be the default")
        ids = [address.id for address in value if address.id is not None]
        if len(ids) != len(set(ids)):
            raise ValueError("each address id may appear only once")
        return value


class AddressOut(BaseModel):
    """A stored postal address."""

    id: str
    label: str | None
    name: str
    line1: str
    line2: str | None
    city: str
    region: str | None
    postal_code: str | None
    country: str
    phone: str | None
    is_default: bool


class ProfileOut(BaseModel):
    """A user's profile as the API shows it."""

    id: str
    email: str
    name: str
    bio: str | None
    avatar_url: str | None
    preferences: dict[str, JsonValue]
    addresses: list[AddressOut]
    created_at: datetime
    updated_at: datetime


def profile_body(profile: Profile | ProfileRow) -> dict[str, Any]:
    """The JSON object of a stored profile (entity or read row), in the `ProfileOut` shape.

    Built by hand and encoded with orjson because `GET /me` is the hottest read of
    the service: validating the stored row through `ProfileOut` again cost ~8% of
    its CPU. Stored addresses already have `AddressOut`'s fields (`resolve_addresses`
    writes them); a unit test holds this body to the model.
    """
    p = row_of(profile, ProfileRow)
    return {
        "id": p["user_id"],
        "email": p["email"],
        "name": p["name"],
        "bio": p["bio"],
        "avatar_url": p["avatar_url"],
        "preferences": p["preferences"] or {},
        "addresses": p["addresses"] or [],
        "created_at": p["created_at"],
        "updated_at": p["updated_at"],
    }


class ProfilePage(Page[ProfileOut]):
    """One page of profiles and the cursor of the next, if any."""
