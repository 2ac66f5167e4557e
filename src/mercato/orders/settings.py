"""Settings of the orders service (`MERCATO_ORDERS_*`, then `MERCATO_*`).

`catalog_url` and `payments_url` are each a base URL, or several separated by
commas, one per instance (`http://10.0.0.1:8130,http://10.0.0.2:8130`): the saga's
calls are balanced over them and fail over when one is down. `shipping_url` is the
same for the shipping service's quotes; unset (empty), checkout charges no shipping
(a shop that ships for free, or runs without the shipping service).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, ValidationInfo, field_validator

from mercato.chassis import config
from mercato.chassis.client.balancing import parse_base_urls
from mercato.chassis.config import ServiceSettings

__all__ = ["OrdersSettings", "load_settings"]


class OrdersSettings(ServiceSettings):
    """The orders service's settings: where its dependencies are, and saga timing."""

    port: int = Field(default=8140, ge=0, le=65535)
    catalog_url: str = Field(
        default="http://127.0.0.1:8130",
        description="The catalog's base URL, or its instances' comma-separated.",
    )
    payments_url: str = Field(
        default="http://127.0.0.1:8150",
        description="The payments service's base URL, or its instances' comma-separated.",
    )
    shipping_url: str = Field(
        default="",
        description="The shipping service's base URL, or its instances' comma-separated; "
        "empty: no shipping is charged.",
    )
    shipping_timeout_seconds: float = Field(
        default=3.0, gt=0, description="Per shipping quote call."
    )
    catalog_timeout_seconds: float = Field(default=3.0, gt=0, description="Per catalog call.")
    catalog_attempt_timeout_seconds: float = Field(
        default=1.5,
        ge=0,
        description="Per try of a catalog call; a replica slower than this is left for "
        "another (0: the whole call).",
    )
    payments_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Per payments call (above the provider's own timeout)."
    )
    payments_attempt_timeout_seconds: float = Field(
        default=0.0,
        ge=0,
        description="Per try of a payments call (0: the whole call, as a charge may wait "
        "on the provider).",
    )
    checkout_timeout_seconds: float = Field(
        default=8.0, ge=0, description="How long POST /api/orders waits for the saga."
    )
    sweep_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often unfinished sagas are looked for."
    )
    stale_after_seconds: float = Field(
        default=5.0, ge=0, description="Age of an unfinished saga step before the sweeper takes it."
    )
    lease_seconds: float = Field(
        default=30.0, gt=0, description="How long a worker owns an order it drives."
    )
    reservation_ttl_seconds: int = Field(
        default=900, ge=1, description="Lifetime of a stock reservation at the catalog."
    )
    retry_limit: int = Field(
        default=8,
        ge=1,
        le=100,
        description="Failed attempts at one step of a saga before the order needs an operator.",
    )
    retry_backoff_max_seconds: float = Field(
        default=300.0,
        gt=0,
        description="Longest wait between two attempts at a step; the wait starts at "
        "stale_after_seconds and doubles.",
    )
    step_deadline_seconds: float = Field(
        default=600.0,
        gt=0,
        description="Longest an order may stay in one state of the saga before it needs "
        "an operator (below reservation_ttl_seconds, so that it still holds its stock).",
    )

    @field_validator("catalog_url", "payments_url")
    @classmethod
    def _base_urls(cls, value: str, info: ValidationInfo) -> str:
        """Each listed URL checked, written the same way (no spaces or trailing /)."""
        service = (info.field_name or "").removesuffix("_url")
        return ",".join(parse_base_urls(value, service))

    @field_validator("shipping_url")
    @classmethod
    def _optional_base_urls(cls, value: str) -> str:
        """Like the others, but empty is allowed: shipping is then not charged."""
        return ",".join(parse_base_urls(value, "shipping")) if value.strip() else ""

    @property
    def catalog_urls(self) -> tuple[str, ...]:
        """The base URL of every catalog instance."""
        return tuple(self.catalog_url.split(","))

    @property
    def payments_urls(self) -> tuple[str, ...]:
        """The base URL of every payments instance."""
        return tuple(self.payments_url.split(","))

    @property
    def shipping_urls(self) -> tuple[str, ...]:
        """The base URL of every shipping instance (none: shipping is not charged)."""
        return tuple(self.shipping_url.split(",")) if self.shipping_url else ()


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> OrdersSettings:
    """Read the orders service's settings from the environment, then `overrides`."""
    return config.load_settings(OrdersSettings, "orders", environ, **overrides)
