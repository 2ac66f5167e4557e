"""Service settings read from environment variables and validated at start.

Every service has a prefix (`MERCATO_AUTH_`, `MERCATO_CATALOG_`, ...). A field is read
from `MERCATO_<SERVICE>_<FIELD>` first and then from the shared `MERCATO_<FIELD>`, so
that one `MERCATO_BROKER_URL` serves the whole system while a single service can
still be pointed elsewhere. A bad value raises `SettingsError` whose message is one
line naming the variable; the CLI prints it and exits non-zero. In production a
secret that is empty, a placeholder or too short is refused the same way
(`chassis.production_secrets`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from mercato.chassis.bus_names import DEFAULT_NAMESPACE, check_namespace
from mercato.chassis.client_addresses import parse_networks
from mercato.chassis.production_secrets import secret_problem, url_password

__all__ = ["MAX_DURATION_SECONDS", "ServiceSettings", "SettingsError", "env_names", "load_settings"]

# The longest duration any setting may name. A lease or a retention is added to the
# current time, and past year 9999 that is an OverflowError at the first checkout
# or clean-up instead of an error at start; ten years is past any sensible value
# (a retention of 0 days keeps events forever).
MAX_DURATION_SECONDS = 10 * 365 * 86_400
# Values of these fields are never echoed in an error message: they may hold secrets.
_SENSITIVE = ("secret", "password", "passphrase", "clients", "url", "token", "key")


class SettingsError(Exception):
    """A configuration value is missing or invalid; the message is one line."""


class ServiceSettings(BaseModel):
    """Settings shared by every service; a service subclasses this to add its own."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    # Older names a field is still read from (after its own names), so that a renamed
    # setting's variables keep working: {"new_field": ("old_field",)}.
    ENV_ALIASES: ClassVar[Mapping[str, tuple[str, ...]]] = {}

    service: str = Field(default="", description="Service name, set by the loader.")
    env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    instance: str = Field(default="", description="Instance id, for logs and load balancing.")
    data_dir: Path = Path(".mercato")
    database_url: str = Field(default="", description="Defaults to SQLite in data_dir.")
    database_pool_size: int = Field(
        default=20,
        ge=1,
        description=(
            "PostgreSQL: the connections each process opens and keeps; a request "
            "beyond them waits for one."
        ),
    )
    broker_url: str = Field(default="nats://127.0.0.1:4322", description="nats:// or amqp://")
    bus_namespace: str = Field(
        default=DEFAULT_NAMESPACE,
        description="Prefix of the broker's streams, exchanges and queues (shared by a system).",
    )
    event_ack_wait_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "NATS: how long an event handed to a consumer may go unacknowledged before "
            "it is delivered again (a consumer that died mid-event)."
        ),
    )
    redis_url: str = ""
    auth_url: str = Field(default="http://127.0.0.1:8110", description="Where the JWKS is.")
    jwt_issuer: str = "mercato"
    jwt_audience: str = "mercato"
    client_secret: str = Field(
        default="dev-insecure-client-secret",
        description="This service's client-credentials secret at auth.",
    )
    trusted_proxies: tuple[str, ...] = Field(
        default=(),
        description=(
            "Networks of the proxies in front of the gateway (ingress, load balancer), "
            "whose X-Forwarded-For is believed (`chassis.client_addresses`)."
        ),
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    run_migrations: bool = True

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _trusted_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(filter(None, (v.strip() for v in value.split(","))))
        if isinstance(value, list | tuple):
            parse_networks(value)
        return value

    @field_validator("bus_namespace")
    @classmethod
    def _bus_namespace(cls, value: str) -> str:
        return check_namespace(value)

    @field_validator("*")
    @classmethod
    def _bounded_duration(cls, value: object, info: ValidationInfo) -> object:
        """Every `*_seconds` and `*_days` field, this class's or a service's: ten years at most."""
        name = info.field_name or ""
        unit = 86_400 if name.endswith("_days") else 1 if name.endswith("_seconds") else 0
        if unit and isinstance(value, int | float) and value * unit > MAX_DURATION_SECONDS:
            raise ValueError(f"must be at most {MAX_DURATION_SECONDS // unit} (ten years)")
        return value

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, defaulting to a WAL SQLite file per service."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / (self.service + '.db')}"

    def secret_problems(self) -> list[tuple[str, str]]:
        """`(field, why)` for each secret production refuses; none outside production.

        Every `*secret` and `*passphrase` field and the password of every `*_url`
        field follow `chassis.production_secrets`; a service adds its own secrets by
        extending this method.
        """
        if self.env != "production":
            return []
        problems: list[tuple[str, str]] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            if not isinstance(value, str):
                continue
            if name.endswith(("secret", "passphrase")):
                problem = secret_problem(value)
            elif name.endswith("_url") and (password := url_password(value)) is not None:
                problem = secret_problem(password)
                problem = problem and f"the password in the URL {problem}"
            else:
                continue
            if problem:
                problems.append((name, problem))
        return problems


S = TypeVar("S", bound=ServiceSettings)


def env_names(service: str, field: str) -> tuple[str, str]:
    """The two variable names a field is read from, most specific first."""
    return (f"MERCATO_{service.upper()}_{field.upper()}", f"MERCATO_{field.upper()}")


def load_settings(
    cls: type[S], service: str, environ: Mapping[str, str] | None = None, **overrides: object
) -> S:
    """Build `cls` for `service` from the environment, raising a one-line SettingsError."""
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {}
    origin: dict[str, str] = {}
    for field in cls.model_fields:
        aliases = cls.ENV_ALIASES.get(field, ())
        names = [n for f in (field, *aliases) for n in env_names(service, f)]
        for name in names:
            if name in environ:
                values[field] = environ[name]
                origin[field] = name
                break
    values.update(overrides)
    values["service"] = service
    try:
        settings = cls.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = str(error["loc"][0]) if error["loc"] else "?"
        name = origin.get(field, env_names(service, field)[0])
        got = values.get(field)
        sensitive = any(word in field for word in _SENSITIVE)
        shown = f" (got {got!r})" if got is not None and not sensitive else ""
        message = error["msg"].removeprefix("Value error, ")  # pydantic's, for our own checks
        raise SettingsError(f"{name}: {message}{shown}") from None
    for field, problem in settings.secret_problems()[:1]:
        raise SettingsError(f"{origin.get(field, env_names(service, field)[0])}: {problem}")
    return settings
