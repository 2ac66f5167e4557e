"""Settings of the auth service (`MERCATO_AUTH_*`, then `MERCATO_*`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from pydantic import Field, ValidationInfo, field_validator

from mercato.auth.passwords import password_problems
from mercato.chassis import config
from mercato.chassis.config import ServiceSettings
from mercato.chassis.security.production_secrets import is_placeholder, secret_problem

__all__ = ["KNOWN_SERVICES", "AuthSettings", "load_settings", "parse_clients"]

# Services that may use client credentials with auth's own `client_secret` when no
# `clients` are configured (a single development process, `mercato run auth`).
KNOWN_SERVICES = ("gateway", "users", "catalog", "orders", "payments", "logs", "web")
# OWASP's floor for argon2id memory; production refuses anything cheaper.
MIN_PRODUCTION_MEMORY_KIB = 19_456


def parse_clients(value: str) -> dict[str, str]:
    """Parse `id:secret,id:secret` into a mapping; ValueError naming a bad entry."""
    clients: dict[str, str] = {}
    for raw in value.split(","):
        entry = raw.strip()
        if not entry:
            continue
        client_id, sep, secret = entry.partition(":")
        if not sep or not client_id.strip() or not secret:
            raise ValueError(f"expected 'client_id:secret' entries, got {client_id.strip()!r}")
        clients[client_id.strip()] = secret
    return clients


class AuthSettings(ServiceSettings):
    """The auth service's own settings on top of the shared ones."""

    port: int = Field(default=8110, ge=0, le=65535)
    access_ttl_seconds: int = Field(default=900, ge=30, le=86_400)
    refresh_ttl_seconds: int = Field(default=30 * 86_400, ge=60)
    clients: dict[str, str] = Field(
        default_factory=dict,
        description="Client credentials as 'users:secret1,catalog:secret2'.",
    )
    admin_email: str = ""
    admin_password: str = ""
    # Login throttling (`mercato.auth.throttle`): failures are counted per account and
    # source, per source, and per account from anywhere; see the README.
    login_max_failures_per_account_source: int = Field(
        default=5, ge=1, description="Failures of one account from one address per window."
    )
    login_max_failures_per_source: int = Field(
        default=20, ge=1, description="Failures from one address, over all accounts."
    )
    login_max_failures_per_account: int = Field(
        default=100,
        ge=1,
        description="Failures of one account from everywhere before its logins are slowed.",
    )
    login_account_slowdown_seconds: float = Field(
        default=2.0,
        gt=0,
        description="Past that bound: one attempt on the account per this many seconds.",
    )
    login_window_seconds: int = Field(default=300, ge=1)
    trust_forwarded_for: bool = Field(
        default=True,
        description=(
            "Take the client address from X-Forwarded-For when the gateway proves it "
            "forwarded the request (`chassis.security.client_addresses`); false: the peer, always."
        ),
    )
    password_hash_concurrency: int | None = Field(
        default=None,
        ge=1,
        description="Hashes at once; default: the CPUs and memory this process may use.",
    )
    password_hash_queue: int | None = Field(
        default=None,
        ge=0,
        description="Hashes that may wait for a slot (more: 503); default: twice the slots.",
    )
    key_retention_seconds: int = Field(
        default=0,
        ge=0,
        description="How long a retired key stays in the JWKS; 0 means access TTL + 5 min.",
    )
    signing_key_passphrase: str = Field(
        default="", description="When set, private keys are stored encrypted with it."
    )
    # Bounded so that a bad value fails at start, not at every register and login:
    # argon2 refuses less than 8 KiB per lane and memory beyond 32 bits of KiB, and a
    # time cost in the hundreds makes each login take minutes.
    password_time_cost: int = Field(default=3, ge=1, le=50)
    password_memory_kib: int = Field(default=65_536, ge=8, le=4 * 1024 * 1024)
    password_parallelism: int = Field(default=4, ge=1, le=64, validate_default=True)
    maintenance_interval_seconds: float = Field(default=30.0, gt=0)

    ENV_ALIASES: ClassVar[Mapping[str, tuple[str, ...]]] = {
        # Its name before login throttling counted per account and source.
        "login_max_failures_per_source": ("login_max_failures_per_client",),
    }

    @field_validator("clients", mode="before")
    @classmethod
    def _parse_clients(cls, value: object) -> object:
        return parse_clients(value) if isinstance(value, str) else value

    @field_validator("key_retention_seconds")
    @classmethod
    def _retention_covers_ttl(cls, value: int, info: ValidationInfo) -> int:
        ttl = info.data.get("access_ttl_seconds")
        if value and isinstance(ttl, int) and value < ttl:
            raise ValueError(f"must be at least access_ttl_seconds ({ttl})")
        return value

    @field_validator("password_memory_kib")
    @classmethod
    def _memory_floor(cls, value: int, info: ValidationInfo) -> int:
        if info.data.get("env") == "production" and value < MIN_PRODUCTION_MEMORY_KIB:
            raise ValueError(f"must be at least {MIN_PRODUCTION_MEMORY_KIB} KiB in production")
        return value

    @field_validator("password_parallelism")
    @classmethod
    def _memory_per_lane(cls, value: int, info: ValidationInfo) -> int:
        memory = info.data.get("password_memory_kib")
        if isinstance(memory, int) and memory < 8 * value:
            raise ValueError(f"{value} lanes need password_memory_kib of at least {8 * value}")
        return value

    def secret_problems(self) -> list[tuple[str, str]]:
        """The shared rule, and each client secret and the admin password (production)."""
        problems = super().secret_problems()
        if self.env != "production":
            return problems
        for client_id, secret in sorted(self.clients.items()):
            problem = secret_problem(secret)
            if problem:
                problems.append(("clients", f"the secret of {client_id!r} {problem}"))
        if self.admin_password:
            if is_placeholder(self.admin_password):
                why = ["is an example's placeholder"]
            else:
                why = password_problems(self.admin_password, email=self.admin_email)
            if why:
                problems.append(("admin_password", "refused in production: " + "; ".join(why)))
        return problems

    @property
    def key_retention(self) -> int:
        """Seconds a retired signing key stays published: its tokens' lifetime and more."""
        return self.key_retention_seconds or self.access_ttl_seconds + 300

    def client_secrets(self) -> dict[str, str]:
        """Client id to secret; without configured clients, the known services."""
        if self.clients:
            return dict(self.clients)
        return dict.fromkeys(KNOWN_SERVICES, self.client_secret)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> AuthSettings:
    """Read the auth service's settings from the environment, then `overrides`."""
    return config.load_settings(AuthSettings, "auth", environ, **overrides)
