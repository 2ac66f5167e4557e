"""Service settings read from environment variables and validated at start.

Every service has a prefix (`MERCATO_AUTH_`, `MERCATO_CATALOG_`, ...). A field is read
from `MERCATO_<SERVICE>_<FIELD>` first and then from the shared `MERCATO_<FIELD>`, so
that one `MERCATO_BROKER_URL` serves the whole system while a single service can
still be pointed elsewhere. A bad value raises `SettingsError` whose message is one
line naming the variable; the CLI prints it and exits non-zero. In production a
secret that is empty, a placeholder or too short is refused the same way
(`chassis.security.production_secrets`).
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from mercato.chassis.data.drivers import check_database_url
from mercato.chassis.events.broker_urls import check_broker_url
from mercato.chassis.events.names import DEFAULT_NAMESPACE, check_namespace
from mercato.chassis.security import tls
from mercato.chassis.security.client_addresses import parse_networks
from mercato.chassis.security.production_secrets import secret_problem, url_password

__all__ = [
    "MAX_DURATION_SECONDS",
    "MAX_EVENT_REPLICAS",
    "ServiceSettings",
    "SettingsError",
    "env_names",
    "load_settings",
]

# The longest duration any setting may name. A lease or a retention is added to the
# current time, and past year 9999 that is an OverflowError at the first checkout
# or clean-up instead of an error at start; ten years is past any sensible value
# (a retention of 0 days keeps events forever).
MAX_DURATION_SECONDS = 10 * 365 * 86_400
# JetStream keeps at most 5 replicas of a stream (an odd number is a quorum's best size).
MAX_EVENT_REPLICAS = 5
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

    # Whether, given `tls_ca_file`, this process requires client certificates signed by
    # it. The gateway's subclass says no: it is the public door, and browsers have none.
    VERIFIES_CLIENTS: ClassVar[bool] = True

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
            "PostgreSQL and MySQL: the connections each process opens and keeps; a "
            "request beyond them waits for one."
        ),
    )
    broker_url: str = Field(
        default="nats://127.0.0.1:4322",
        description=(
            "nats:// or amqp://; NATS takes a comma-separated list of a cluster's servers "
            "(`chassis.events.broker_urls`)."
        ),
    )
    event_replicas: int = Field(
        default=1,
        description=(
            "Copies the broker keeps of every event: the replicas of each JetStream stream, "
            "the initial size of each RabbitMQ quorum queue. 1 for a single node, 3 on a "
            "cluster; a service raises a stream to it, never lowers one."
        ),
    )
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
            "whose X-Forwarded-For is believed (`chassis.security.client_addresses`)."
        ),
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    trace_statements: bool = Field(
        default=False,
        description="With tracing on (OTEL_EXPORTER_OTLP_ENDPOINT): a span per database statement.",
    )
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    max_upload_bytes: int = Field(
        default=5 * 1_048_576,
        gt=0,
        description=(
            "The body of an upload route (a file as multipart/form-data), framing "
            "included: 413 beyond (`chassis.web.uploads`)."
        ),
    )
    # What one client may hold of the process (`chassis.web.http_protocol`).
    http_head_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A request head must arrive whole within this."
    )
    http_body_timeout_seconds: float = Field(
        default=10.0, gt=0, description="A request body may pause at most this long."
    )
    http_keepalive_timeout_seconds: float = Field(
        default=30.0, gt=0, description="An idle keep-alive connection is closed after this."
    )
    http_linger_seconds: float = Field(
        default=5.0, ge=0, description="How long an unread body is dropped after an answer."
    )
    http_linger_bytes: int = Field(
        default=16 << 20, ge=0, description="How much of an unread body is dropped at most."
    )
    http_max_request_line_bytes: int = Field(default=8192, ge=256, description="414 beyond.")
    http_max_header_bytes: int = Field(default=8192, ge=256, description="431 beyond.")
    http_max_headers: int = Field(default=100, ge=8, description="431 beyond.")
    http_max_head_bytes: int = Field(default=65536, ge=1024, description="431 beyond.")
    http_max_connections: int = Field(
        default=4096, ge=1, description="Open connections in all (at most the file limit)."
    )
    http_max_connections_per_client: int = Field(
        default=0, ge=0, description="Open connections from one address (0: no bound)."
    )
    shutdown_grace_seconds: float = Field(default=10.0, ge=0)
    run_migrations: bool = True
    # TLS (see `mercato.chassis.security.tls`). The fields are checked in this order, so that a
    # validator sees the fields above it: a key is checked against its certificate.
    tls_certfile: Path | None = Field(
        default=None, description="PEM certificate (chain) this process serves HTTPS with."
    )
    tls_keyfile: Path | None = Field(
        default=None, validate_default=True, description="The unencrypted PEM key of tls_certfile."
    )
    tls_client_certfile: Path | None = Field(
        default=None,
        description="The certificate presented when calling services (default: tls_certfile).",
    )
    tls_client_keyfile: Path | None = Field(
        default=None, validate_default=True, description="The key of tls_client_certfile."
    )
    tls_ca_file: Path | None = Field(
        default=None,
        validate_default=True,
        description=(
            "CA of service-to-service TLS: called services are verified against it, and "
            "a service requires client certificates it signed (mutual TLS)."
        ),
    )

    @field_validator(
        "tls_certfile",
        "tls_keyfile",
        "tls_client_certfile",
        "tls_client_keyfile",
        "tls_ca_file",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value  # compose's `${VAR:-}`, an unset secret

    @field_validator("tls_certfile", "tls_client_certfile")
    @classmethod
    def _certificate(cls, value: Path | None) -> Path | None:
        return None if value is None else tls.check_certificate(value)

    @field_validator("tls_keyfile", "tls_client_keyfile")
    @classmethod
    def _key(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        certificate_field = str(info.field_name).replace("keyfile", "certfile")
        if certificate_field not in info.data:
            return value  # the certificate itself was refused: that is the error to show
        certificate = info.data[certificate_field]
        if certificate is None and value is not None:
            raise ValueError(
                f"a key without its certificate: set {_variable(info, certificate_field)}"
            )
        if certificate is not None and value is None:
            raise ValueError(f"the key of {_variable(info, certificate_field)} is needed too")
        if certificate is not None and value is not None:
            tls.check_key_pair(certificate, value)
        return value

    @field_validator("tls_ca_file")
    @classmethod
    def _ca_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        tls.check_ca_file(value)
        fields = ("tls_certfile", "tls_keyfile", "tls_client_certfile", "tls_client_keyfile")
        if not all(name in info.data for name in fields):
            return value  # a certificate or key was refused: that is the error to show
        if cls.VERIFIES_CLIENTS and info.data["tls_certfile"] is None:
            wanted = _variable(info, "tls_certfile"), _variable(info, "tls_keyfile")
            raise ValueError(
                "mutual TLS needs this service's certificate: set {} and {}".format(*wanted)
            )
        if info.data["tls_certfile"] is None and info.data["tls_client_certfile"] is None:
            wanted = _variable(info, "tls_client_certfile"), _variable(info, "tls_client_keyfile")
            raise ValueError(
                "mutual TLS needs a certificate to present: set {} and {}".format(*wanted)
            )
        # A service under mutual TLS answers no plain request: a plain URL would fail
        # at every call (or, to a server left without TLS, send tokens in the clear).
        if str(info.data.get("auth_url", "")).startswith("http://"):
            raise ValueError(
                f"mutual TLS, but {_variable(info, 'auth_url')} is http://: use https://"
            )
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _trusted_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = tuple(filter(None, (v.strip() for v in value.split(","))))
        if isinstance(value, list | tuple):
            parse_networks(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return check_database_url(value) if value else value

    @field_validator("broker_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        return check_broker_url(value)

    @field_validator("event_replicas", mode="before")
    @classmethod
    def _event_replicas(cls, value: object) -> object:
        number = value.strip() if isinstance(value, str) else value
        if isinstance(number, str) and number.isdigit():
            number = int(number)
        if (
            not isinstance(number, int)
            or isinstance(number, bool)
            or not 1 <= number <= MAX_EVENT_REPLICAS
        ):
            raise ValueError(
                f"must be a whole number from 1 to {MAX_EVENT_REPLICAS} (the copies of each "
                "event the broker keeps: 1 on a single node, 3 on a cluster)"
            )
        return number

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

    def listen_ports(self) -> tuple[int, ...]:
        """The ports the process serves on: `port` (the gateway adds its operator port)."""
        return (self.port,)

    @property
    def tls_client_certificate(self) -> tuple[Path, Path] | None:
        """The (certificate, key) presented when calling services, if any."""
        if self.tls_client_certfile is not None and self.tls_client_keyfile is not None:
            return self.tls_client_certfile, self.tls_client_keyfile
        if self.tls_certfile is not None and self.tls_keyfile is not None:
            return self.tls_certfile, self.tls_keyfile
        return None

    @property
    def tls_clients_ca(self) -> str | None:
        """The CA a client certificate must be signed by (uvicorn's `ssl_ca_certs`), if any."""
        if self.VERIFIES_CLIENTS and self.tls_certfile is not None and self.tls_ca_file:
            return str(self.tls_ca_file)
        return None

    @property
    def tls_cert_reqs(self) -> ssl.VerifyMode:
        """uvicorn's `ssl_cert_reqs`: required client certificates under mutual TLS."""
        return ssl.CERT_REQUIRED if self.tls_clients_ca else ssl.CERT_NONE

    def tls_client_context(self) -> ssl.SSLContext | None:
        """The context of this process's HTTPS calls to services (None: the defaults)."""
        return tls.client_context(self.tls_ca_file, self.tls_client_certificate)

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL, defaulting to a WAL SQLite file per service."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / (self.service + '.db')}"

    def secret_problems(self) -> list[tuple[str, str]]:
        """`(field, why)` for each secret production refuses; none outside production.

        Every `*secret` and `*passphrase` field and the password of every `*_url`
        field follow `chassis.security.production_secrets`; a service adds its own secrets by
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


def _variable(info: ValidationInfo, field: str) -> str:
    """The variable that sets `field` of the service being validated, for a message."""
    return env_names(str(info.data.get("service") or "<service>"), field)[0]


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
        # A TLS file's message names the file already.
        shown = f" (got {got!r})" if got is not None and not sensitive else ""
        if field.startswith("tls_"):
            shown = ""
        message = error["msg"].removeprefix("Value error, ")  # pydantic's, for our own checks
        raise SettingsError(f"{name}: {message}{shown}") from None
    for field, problem in settings.secret_problems()[:1]:
        raise SettingsError(f"{origin.get(field, env_names(service, field)[0])}: {problem}")
    return settings
