"""Settings of the catalog service (`MERCATO_CATALOG_*`, then `MERCATO_*`)."""

from __future__ import annotations

from pydantic import Field

from mercato.catalog.context import CatalogContext
from mercato.chassis.config import ServiceSettings
from mercato.chassis.config import load_settings as _load
from mercato.chassis.runtime import Runtime

__all__ = ["CatalogRuntime", "CatalogSettings", "load_settings"]


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
    reservation_ttl_seconds: int = Field(
        default=900,
        ge=1,
        le=86400,
        description="How long a stock reservation lasts when its request names no ttl_seconds.",
    )
    image_max_pixels: int = Field(
        default=25_000_000,
        ge=1,
        le=178_956_970,  # twice Pillow's own bound, past which it refuses any image
        description=(
            "The most pixels (width times height) decoded from an uploaded image: 422 "
            "beyond, before decoding (a small file can hold a huge image). A JPEG much "
            "larger than 1200 px is decoded at 1/2, 1/4 or 1/8 of its size, which counts."
        ),
    )
    images_per_product: int = Field(
        default=10,
        ge=1,
        le=20,
        description="The most uploaded images a product may have: 409 beyond.",
    )
    reservation_sweep_seconds: float = Field(
        default=5.0,
        gt=0,
        le=3600,
        description="How often the sweeper looks for expired reservations to release.",
    )
    search_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description="How old a search's answer served again may be (0: none is); past 80% "
        "of it, it is computed again in the background. The process's own product writes "
        "clear them (catalog.search_cache).",
    )
    search_cache_megabytes: int = Field(
        default=32,
        ge=0,
        le=4096,
        description="How much memory a process gives cached search answers at most (MiB; "
        "the least recently used go first): a page of 20 products is about 25 KB.",
    )


def load_settings(**overrides: object) -> CatalogSettings:
    """The catalog's settings from the environment, with `overrides` on top."""
    return _load(CatalogSettings, "catalog", None, **overrides)


CatalogRuntime = Runtime[CatalogSettings, CatalogContext]
