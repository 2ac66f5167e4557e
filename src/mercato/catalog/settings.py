"""Settings of the catalog service (`MERCATO_CATALOG_*`, then `MERCATO_*`)."""

from __future__ import annotations

from pydantic import Field

from mercato.chassis.config import ServiceSettings
from mercato.chassis.config import load_settings as _load

__all__ = ["CatalogSettings", "load_settings"]


class CatalogSettings(ServiceSettings):
    """The catalog's own settings on top of the shared ones."""

    port: int = Field(default=8130, ge=0, le=65535)
    demo_data: bool = Field(
        default=False,
        description="Load the demo catalog at start when the products table is empty.",
    )
    currency: str = Field(
        default="USD",
        pattern=r"^[A-Z]{3}$",
        description="ISO 4217 currency of imported prices that do not name one.",
    )


def load_settings(**overrides: object) -> CatalogSettings:
    """The catalog's settings from the environment, with `overrides` on top."""
    return _load(CatalogSettings, "catalog", None, **overrides)
