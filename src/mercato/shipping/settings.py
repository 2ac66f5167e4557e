"""Settings of the shipping service (`MERCATO_SHIPPING_*`, then `MERCATO_*`)."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from mercato.chassis import config
from mercato.chassis.config import ServiceSettings

__all__ = ["ShippingSettings", "load_settings"]


class ShippingSettings(ServiceSettings):
    """The shipping service's settings: its port, the return window, the simulated carrier."""

    port: int = Field(default=8180, ge=0, le=65535)
    return_window_days: int = Field(
        default=30,
        ge=0,
        le=3650,
        description="Days after a line's delivery during which it may be returned.",
    )
    simulated_carrier_seconds: float = Field(
        default=0.0,
        ge=0,
        le=86400,
        description=(
            "Development only: move every shipment one step on (pending, packed, shipped, "
            "delivered) this many seconds after its last move; 0 turns the carrier off."
        ),
    )


def load_settings(
    environ: Mapping[str, str] | None = None, **overrides: object
) -> ShippingSettings:
    """Read the shipping service's settings from the environment, then `overrides`."""
    return config.load_settings(ShippingSettings, "shipping", environ, **overrides)
