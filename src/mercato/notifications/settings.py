"""Settings of the notifications service (`MERCATO_NOTIFICATIONS_*`, then `MERCATO_*`).

`smtp_url` is where mail goes (`smtp://user:pass@host:port`, `smtps://` for implicit
TLS); production requires it. `mercato up` points it at its development mail sink
when it is unset. `users_url` (one base URL or several, comma-separated) is the
users service asked for a recipient `user.registered` never brought (empty: none).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from pydantic import Field, ValidationInfo, field_validator

from mercato.chassis import config
from mercato.chassis.client.balancing import parse_base_urls
from mercato.chassis.config import MAX_DURATION_SECONDS, ServiceSettings
from mercato.notifications.mail import parse_from_address, parse_smtp_url

__all__ = ["NotificationsSettings", "load_settings"]


class NotificationsSettings(ServiceSettings):
    """The notifications service's settings: the shared ones, SMTP and the shop's name."""

    # `MERCATO_NOTIFICATIONS_FROM` is read too, after `..._FROM_ADDRESS`.
    ENV_ALIASES: ClassVar[Mapping[str, tuple[str, ...]]] = {"from_address": ("from",)}

    port: int = Field(default=8190, ge=0, le=65535)
    smtp_url: str = Field(
        default="",
        validate_default=True,  # production refuses it unset
        description="smtp://user:pass@host:port or smtps://...",
    )
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # The CA that signed the mail server's certificate, if not one the system trusts.
    smtp_ca_file: str = ""
    # An event older than this is not mailed about (0: any age). A consumer created on
    # a running system reads the broker's whole retention (days of events) first;
    # days-late "order confirmed" mails would only confuse.
    max_event_age_seconds: float = Field(default=86_400.0, ge=0, le=MAX_DURATION_SECONDS)
    # What the mails are signed with and link to.
    shop_name: str = Field(default="Mercato", min_length=1, max_length=100)
    shop_url: str = Field(default="http://127.0.0.1:8000", max_length=500)
    from_address: str = Field(default="Mercato <no-reply@mercato.localhost>", max_length=320)
    # Asked for a user's address when `user.registered` never reached this service.
    users_url: str = ""
    users_timeout_seconds: float = Field(default=3.0, gt=0, le=60)

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str, info: ValidationInfo) -> str:
        if value:
            parse_smtp_url(value)  # raises ValueError naming what is wrong
        elif info.data.get("env") == "production":
            raise ValueError("is required in production (smtp://user:pass@host:port)")
        return value

    @field_validator("smtp_ca_file")
    @classmethod
    def _smtp_ca_file(cls, value: str) -> str:
        if value and not Path(value).is_file():
            raise ValueError(f"no such file: {value}")
        return value

    @field_validator("shop_url")
    @classmethod
    def _shop_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("users_url")
    @classmethod
    def _users_url(cls, value: str) -> str:
        return ",".join(parse_base_urls(value, "users")) if value.strip() else ""

    @property
    def users_urls(self) -> tuple[str, ...]:
        """The base URL of every users instance (none: no lookup)."""
        return tuple(self.users_url.split(",")) if self.users_url else ()

    @field_validator("from_address")
    @classmethod
    def _from_address(cls, value: str) -> str:
        parse_from_address(value)
        return value


def load_settings(
    environ: Mapping[str, str] | None = None, **overrides: object
) -> NotificationsSettings:
    """Read the notifications service's settings from the environment, then `overrides`."""
    return config.load_settings(NotificationsSettings, "notifications", environ, **overrides)
