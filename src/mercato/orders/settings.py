"""Settings of the orders service (`MERCATO_ORDERS_*`, then `MERCATO_*`)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from mercato.chassis import config
from mercato.chassis.config import ServiceSettings

__all__ = ["OrdersSettings", "load_settings"]


class OrdersSettings(ServiceSettings):
    """The orders service's settings: where its dependencies are, and saga timing."""

    port: int = Field(default=8140, ge=0, le=65535)
    catalog_url: str = Field(default="http://127.0.0.1:8130", description="The catalog.")
    payments_url: str = Field(default="http://127.0.0.1:8150", description="Payments.")
    catalog_timeout_seconds: float = Field(default=3.0, gt=0, description="Per catalog call.")
    payments_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Per payments call (above the provider's own timeout)."
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


def load_settings(environ: Mapping[str, str] | None = None, **overrides: object) -> OrdersSettings:
    """Read the orders service's settings from the environment, then `overrides`."""
    return config.load_settings(OrdersSettings, "orders", environ, **overrides)
