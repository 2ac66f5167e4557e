"""Settings of the web service, the storefront (`MERCATO_WEB_*`, then `MERCATO_*`).

The services it calls are named by base URL, several comma-separated when a service
runs replicas (`http://127.0.0.1:8130,http://127.0.0.1:8131`), as the launcher
writes them: each call is balanced over them by the chassis' service client.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, ValidationInfo, field_validator

from mercato.chassis import config
from mercato.chassis.client.balancing import parse_base_urls
from mercato.chassis.config import ServiceSettings

__all__ = ["BACKENDS", "WebSettings", "load_settings"]

# The services the storefront calls, each through its public API paths.
BACKENDS = (
    "auth",
    "users",
    "catalog",
    "orders",
    "payments",
    "logs",
    "shipping",
    "notifications",
)


class WebSettings(ServiceSettings):
    """The storefront's settings: where the services are, and how sessions last."""

    port: int = Field(default=8170, ge=0, le=65535)
    auth_api_url: str = Field(
        default="",
        description=(
            "Auth's instances, comma-separated, for the shoppers' calls (default: auth_url, "
            "which names one instance: the JWKS and service tokens come from it)."
        ),
    )
    shop_name: str = Field(default="Mercato", min_length=1, max_length=60)
    users_url: str = Field(
        default="http://127.0.0.1:8120", description="Instances, comma-separated."
    )
    catalog_url: str = Field(
        default="http://127.0.0.1:8130", description="Instances, comma-separated."
    )
    orders_url: str = Field(
        default="http://127.0.0.1:8140", description="Instances, comma-separated."
    )
    payments_url: str = Field(
        default="http://127.0.0.1:8150", description="Instances, comma-separated."
    )
    logs_url: str = Field(
        default="http://127.0.0.1:8160", description="Instances, comma-separated."
    )
    shipping_url: str = Field(
        default="http://127.0.0.1:8180", description="Instances, comma-separated."
    )
    notifications_url: str = Field(
        default="http://127.0.0.1:8190", description="Instances, comma-separated."
    )
    api_timeout_seconds: float = Field(
        default=5.0, gt=0, description="The deadline of one call to a service, retries included."
    )
    session_idle_seconds: int = Field(
        default=2 * 3600, ge=60, description="A signed-in session unused this long ends."
    )
    session_absolute_seconds: int = Field(
        default=7 * 86_400,
        ge=60,
        description="A session ends this long after sign-in, used or not.",
    )
    visitor_idle_seconds: int = Field(
        default=3600, ge=60, description="A visitor's session (no sign-in) unused this long ends."
    )
    refresh_margin_seconds: int = Field(
        default=60,
        ge=0,
        description="Tokens are refreshed when the access token expires within this.",
    )
    secure_cookies: bool | None = Field(
        default=None,
        description=(
            "Mark the session cookie Secure (with the __Host- prefix); default: when the "
            "request came over HTTPS (X-Forwarded-Proto from the gateway) or TLS is served."
        ),
    )
    housekeeping_interval_seconds: float = Field(
        default=300.0, gt=0, description="How often expired sessions are deleted."
    )
    # The operations console (`web.ops`): what it watches besides the services above.
    gateway_operator_url: str = Field(
        default="",
        description=(
            "The gateway's operator ports (its metrics and health), comma-separated, for the "
            "console's system page (default: the gateway is not shown)."
        ),
    )
    web_url: str = Field(
        default="",
        description=(
            "This service's own instances, comma-separated, for the console's system page "
            "(default: only the process that answers)."
        ),
    )
    console_scrape_timeout_seconds: float = Field(
        default=2.0, gt=0, le=30, description="How long the console waits for one scrape."
    )
    console_upload_bytes: int = Field(
        default=1_048_576,
        gt=0,
        description="The largest file the console takes (an image, a products file).",
    )
    checkout_timeout_seconds: float = Field(
        default=9.0,
        gt=0,
        description=(
            "The deadline of placing an order (orders waits up to 8 s for a quick saga "
            "before it answers); under the gateway's 10 s for a page."
        ),
    )
    catalog_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        le=300,
        description=(
            "How long the catalog's public answers (products, listings, categories) are "
            "kept for the pages; 0: not kept."
        ),
    )

    @field_validator(
        "auth_api_url",
        "users_url",
        "catalog_url",
        "orders_url",
        "payments_url",
        "logs_url",
        "shipping_url",
        "notifications_url",
    )
    @classmethod
    def _base_urls(cls, value: str, info: ValidationInfo) -> str:
        """Each listed URL checked, written the same way (no spaces or trailing /)."""
        service = (info.field_name or "").removesuffix("_url").removesuffix("_api")
        if service == "auth" and not value:
            return value
        return ",".join(parse_base_urls(value, service))

    @field_validator("gateway_operator_url", "web_url")
    @classmethod
    def _watched_urls(cls, value: str, info: ValidationInfo) -> str:
        """The console's extra URLs, checked like the services' (empty: none)."""
        name = (info.field_name or "").removesuffix("_url")
        return ",".join(parse_base_urls(value, name)) if value else value

    def instances(self, service: str) -> tuple[str, ...]:
        """The base URL of every instance of `service` (one of `BACKENDS`)."""
        if service == "auth":
            return tuple((self.auth_api_url or self.auth_url).split(","))
        url: str = getattr(self, f"{service}_url")
        return tuple(url.split(","))


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> WebSettings:
    """Read the web service's settings from the environment, then `overrides`."""
    return config.load_settings(WebSettings, "web", environ, **overrides)
