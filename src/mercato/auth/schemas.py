"""API shapes of the auth service (requests `...In`, responses `...Out`), and a user's body."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from mercato.auth.models import User
from mercato.auth.passwords import MAX_LENGTH, MIN_DISTINCT, MIN_LENGTH

__all__ = [
    "ROLES",
    "ClientTokenIn",
    "ClientTokenOut",
    "JwksOut",
    "KeyOut",
    "LoginIn",
    "RefreshIn",
    "RegisterIn",
    "RolesIn",
    "TokenOut",
    "UserOut",
    "normalize_email",
    "user_body",
]

ROLES = ("customer", "admin")
Role = Literal["customer", "admin"]


def normalize_email(value: str) -> str:
    """The canonical (lower-case) form of an email, leniently: it is only looked up."""
    value = value.strip()
    # A reserved domain (admin@mercato.local) is still a valid account name to look up.
    with contextlib.suppress(EmailNotValidError):
        value = validate_email(value, check_deliverability=False).normalized
    return value.lower()


def _lower(value: str) -> str:
    return value.lower()


class _In(BaseModel):
    model_config = ConfigDict(extra="ignore")


LookupEmail = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"
    ),
    AfterValidator(normalize_email),
]
Password = Annotated[str, Field(min_length=1, max_length=MAX_LENGTH)]
# The policy itself (`passwords.check_password`) runs in the service, where it can name
# every rule a password breaks; the document states it, and the length it asks for.
NewPassword = Annotated[
    Password,
    Field(
        description=(
            f"At least {MIN_LENGTH} characters and {MIN_DISTINCT} different ones, mixing two "
            "of lower case, upper case, digits and symbols; not a common password, and not "
            "containing the email's local part."
        ),
        json_schema_extra={"minLength": MIN_LENGTH},
    ),
]


class RegisterIn(_In):
    """`POST /api/auth/register`."""

    email: Annotated[EmailStr, AfterValidator(_lower)]
    password: NewPassword
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


class LoginIn(_In):
    """`POST /api/auth/login`."""

    email: LookupEmail
    password: Password


class RefreshIn(_In):
    """`POST /api/auth/refresh`."""

    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)]


class ClientTokenIn(_In):
    """`POST /api/auth/token` (OAuth 2 client credentials, as JSON)."""

    grant_type: Literal["client_credentials"]
    client_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    client_secret: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    audience: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")]


class RolesIn(_In):
    """`PUT /api/auth/users/{id}/roles`."""

    roles: Annotated[list[Role], Field(min_length=1, max_length=len(ROLES))]


class UserOut(BaseModel):
    """An account as clients see it."""

    id: str
    email: str
    name: str
    roles: list[str]


class TokenOut(BaseModel):
    """Tokens from login or refresh."""

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class ClientTokenOut(BaseModel):
    """A service token from client credentials."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class KeyOut(BaseModel):
    """A signing key, by id."""

    kid: str
    created_at: float


class JwksOut(BaseModel):
    """The JSON Web Key Set."""

    keys: list[dict[str, Any]]


def user_body(user: User) -> UserOut:
    """The API shape of a stored account."""
    return UserOut(id=user.id, email=user.email, name=user.name, roles=user.roles)
