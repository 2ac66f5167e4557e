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


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


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


ADDRESS: dict[str, Any] = {
    "label": "home",
    "name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "line2": None,
    "city": "London",
    "region": None,
    "postal_code": "SW1Y 4JH",
    "country": "GB",
    "phone": "+44 20 7946 0958",
    "is_default": True,
}
PROFILE: dict[str, Any] = {
    "id": "8d5e2c1a-4b7f-4e11-9c3a-2f6d8b0e7a51",
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "bio": "Writes programs for engines that do not exist yet.",
    "avatar_url": "https://images.example.com/ada.png",
    "preferences": {"newsletter": True, "currency": "GBP", "language": "en-GB"},
    "addresses": [{"id": "a1b2c3d4", **ADDRESS}],
    "created_at": "2026-01-01T12:00:00Z",
    "updated_at": "2026-01-02T09:30:00Z",
}
LABEL = "A name for it, e.g. `home` or `office`."
LINE2 = "Flat, floor, building."
REGION = "State, province or county."
DEFAULT = "The one address used when none is chosen."


class AddressIn(BaseModel):
    """A postal address as a client sends it; omit `id` to add a new one."""

    model_config = ConfigDict(extra="forbid")

    id: AddressId | None = Field(
        default=None, description="The id of an address to keep or change; omit it to add one."
    )
    label: Optional50 | None = Field(default=None, description=LABEL)
    name: Required200 = Field(description="Who receives mail there.")
    line1: Required200 = Field(description="Street and number.")
    line2: Optional200 | None = Field(default=None, description=LINE2)
    city: Required100 = Field(description="City or town.")
    region: Optional100 | None = Field(default=None, description=REGION)
    postal_code: PostalCode | None = Field(default=None, description="Postal code, if any.")
    country: Annotated[str, StringConstraints(strip_whitespace=True, to_upper=True)] = Field(
        description="ISO 3166-1 alpha-2 code, e.g. `DE` or `US`."
    )
    phone: Phone | None = Field(default=None, description="A phone number of 5 to 15 digits.")
    is_default: StrictBool = Field(default=False, description=DEFAULT)

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

    newsletter: StrictBool | None = Field(default=None, description="Send the newsletter.")
    currency: CurrencyCode | None = Field(
        default=None, description="ISO 4217 code to show prices in."
    )
    language: LanguageTag | None = Field(default=None, description="A language tag, e.g. `de`.")

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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Ada Lovelace",
                    "preferences": {"newsletter": True, "currency": "GBP"},
                    "addresses": [ADDRESS],
                }
            ]
        },
    )

    # Its default is never read (only the fields sent change) and would break the
    # field's own bounds in the document, so the document states none.
    name: Required200 = Field(
        default="", description="How the user is addressed.", json_schema_extra=_no_default
    )
    bio: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = Field(
        default=None, description="A few words about the user."
    )
    avatar_url: WebUrl | None = Field(default=None, description="An http(s) URL of a picture.")
    preferences: PreferencesIn = Field(
        default_factory=PreferencesIn,
        description="Merged into the stored ones; a key set to null is removed.",
    )
    addresses: list[AddressIn] = Field(
        default_factory=list,
        max_length=MAX_ADDRESSES,
        description="Replaces the stored list: keep an address by sending its `id`.",
    )

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

    id: str = Field(description="The address's id within the profile.")
    label: str | None = Field(description=LABEL)
    name: str = Field(description="Who receives mail there.")
    line1: str = Field(description="Street and number.")
    line2: str | None = Field(description=LINE2)
    city: str = Field(description="City or town.")
    region: str | None = Field(description=REGION)
    postal_code: str | None = Field(description="Postal code, if any.")
    country: str = Field(description="ISO 3166-1 alpha-2 code.")
    phone: str | None = Field(description="A phone number.")
    is_default: bool = Field(description=DEFAULT)


class ProfileOut(BaseModel):
    """A user's profile as the API shows it."""

    model_config = ConfigDict(json_schema_extra={"examples": [PROFILE]})

    id: str = Field(description="The user's id (the `sub` of their tokens).")
    email: str = Field(description="Their email, from their account.")
    name: str = Field(description="How the user is addressed.")
    bio: str | None = Field(description="A few words about the user.")
    avatar_url: str | None = Field(description="A URL of a picture.")
    preferences: dict[str, JsonValue] = Field(
        description="`newsletter`, `currency`, `language`, and any key a client keeps."
    )
    addresses: list[AddressOut] = Field(description="Postal addresses, at most one the default.")
    created_at: datetime = Field(description="When the profile was made.")
    updated_at: datetime = Field(description="When it last changed.")


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

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [PROFILE], "next_cursor": "WzE3Njcy"}]}
    )
