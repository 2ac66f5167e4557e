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


USER_ID = "8d5e2c1a-4b7f-4e11-9c3a-2f6d8b0e7a51"
EMAIL = "ada@example.com"
PASSWORD = "Analytical-Engine-1843"
ACCESS_TOKEN = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiI4ZDVlMmMxYSJ9.c2lnbmF0dXJl"
EXPIRES_IN = "Seconds until the access token expires."


class RegisterIn(_In):
    """`POST /api/auth/register`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": EMAIL, "password": PASSWORD, "name": "Ada"}]}
    )

    email: Annotated[EmailStr, AfterValidator(_lower)] = Field(
        description="The account's email (its login), kept in lower case."
    )
    password: NewPassword
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)] = (
        Field(description="How the account is addressed.")
    )


class LoginIn(_In):
    """`POST /api/auth/login`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": EMAIL, "password": PASSWORD}]}
    )

    email: LookupEmail = Field(description="The account's email, in any case.")
    password: Password = Field(description="The account's password.")


class RefreshIn(_In):
    """`POST /api/auth/refresh`."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"refresh_token": "rt_3q2Z8fKp0vYw7LmN4sXc"}]}
    )

    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=512)] = Field(
        description="The refresh token of the last login or refresh; it is used up."
    )


class ClientTokenIn(_In):
    """`POST /api/auth/token` (OAuth 2 client credentials, as JSON)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "grant_type": "client_credentials",
                    "client_id": "orders",
                    "client_secret": "kq7P2vR9sT4wX1yZ",
                    "audience": "payments",
                }
            ]
        }
    )

    grant_type: Literal["client_credentials"] = Field(description="Always `client_credentials`.")
    client_id: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ] = Field(description="The calling service's client id.")
    client_secret: Annotated[str, StringConstraints(min_length=1, max_length=512)] = Field(
        description="Its client secret."
    )
    audience: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,62}$")] = Field(
        description="The one service the token is for, e.g. `payments`."
    )


class RolesIn(_In):
    """`PUT /api/auth/users/{id}/roles`."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"roles": ["customer", "admin"]}]})

    roles: Annotated[list[Role], Field(min_length=1, max_length=len(ROLES))] = Field(
        description="Every role the account has from now on."
    )


class UserOut(BaseModel):
    """An account as clients see it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"id": USER_ID, "email": EMAIL, "name": "Ada", "roles": ["customer"]}]
        }
    )

    id: str = Field(description="The account's id: the `sub` of its tokens.")
    email: str = Field(description="Its email, in lower case.")
    name: str = Field(description="How it is addressed.")
    roles: list[str] = Field(description="`customer`, and `admin` for administrators.")


class TokenOut(BaseModel):
    """Tokens from login or refresh."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": ACCESS_TOKEN,
                    "refresh_token": "rt_9Jd2Kq5Lm8Np1Rs4Tv7W",
                    "token_type": "Bearer",
                    "expires_in": 900,
                }
            ]
        }
    )

    access_token: str = Field(description="A JWT to send as `Authorization: Bearer ...`.")
    refresh_token: str = Field(description="Opaque; exchanges once for a new pair.")
    token_type: Literal["Bearer"] = Field(default="Bearer", description="Always `Bearer`.")
    expires_in: int = Field(description=EXPIRES_IN)


class ClientTokenOut(BaseModel):
    """A service token from client credentials."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 300}]
        }
    )

    access_token: str = Field(description="A JWT whose audience is the service asked for.")
    token_type: Literal["Bearer"] = Field(default="Bearer", description="Always `Bearer`.")
    expires_in: int = Field(description=EXPIRES_IN)


class KeyOut(BaseModel):
    """A signing key, by id."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"kid": "k-7f3a9c2e", "created_at": 1767225600.0}]}
    )

    kid: str = Field(description="The key id: the `kid` of the tokens it signs.")
    created_at: float = Field(description="When it was made (Unix seconds).")


class JwksOut(BaseModel):
    """The JSON Web Key Set."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "keys": [
                        {
                            "kty": "RSA",
                            "kid": "k-7f3a9c2e",
                            "use": "sig",
                            "alg": "RS256",
                            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbf",
                            "e": "AQAB",
                        }
                    ]
                }
            ]
        }
    )

    keys: list[dict[str, Any]] = Field(
        description="The public keys (RFC 7517) that verify access tokens, by `kid`."
    )


def user_body(user: User) -> UserOut:
    """The API shape of a stored account."""
    return UserOut(id=user.id, email=user.email, name=user.name, roles=user.roles)
