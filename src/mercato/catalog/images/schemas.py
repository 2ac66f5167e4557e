"""The API shapes of product images, and the body of a stored one (`image_body`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mercato.catalog.images.links import LISTED, variant_urls
from mercato.catalog.images.processing import SERVED_TYPE
from mercato.catalog.models import ImageRow, ProductImage
from mercato.chassis.data.driver_reads import row_of
from mercato.contracts.products import PRODUCT_EXAMPLE

__all__ = ["IMAGE_EXAMPLE", "ImageList", "ImageOut", "ImageVariants", "image_body"]

_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
_VARIANTS = variant_urls(_ID)
IMAGE_EXAMPLE: dict[str, Any] = {
    "id": _ID,
    "product_id": PRODUCT_EXAMPLE["id"],
    "url": _VARIANTS[LISTED],
    "variants": _VARIANTS,
    "width": 1600,
    "height": 1200,
    "content_type": SERVED_TYPE,
    "created_at": "2026-01-02T09:30:00Z",
}


class ImageVariants(BaseModel):
    """Where each size of a picture is served (paths from the shop's origin)."""

    thumb: str = Field(description="Fitted into 200 x 200 pixels (a product's `thumbnail`).")
    medium: str = Field(description="Fitted into 600 x 600 pixels (listed in `images`).")
    large: str = Field(description="Fitted into 1200 x 1200 pixels.")


class ImageOut(BaseModel):
    """A picture of a product, stored by the catalog."""

    model_config = ConfigDict(json_schema_extra={"examples": [IMAGE_EXAMPLE]})

    id: str = Field(description="The picture's id: a UUID the catalog gave it.")
    product_id: str = Field(description="The product it shows.")
    url: str = Field(description="Its `medium` variant: what the product's `images` lists.")
    variants: ImageVariants = Field(description="Every size it is served at (never enlarged).")
    width: int = Field(description="Its width in pixels as uploaded, turned upright.")
    height: int = Field(description="Its height in pixels as uploaded, turned upright.")
    content_type: str = Field(description="The media type every variant is served as.")
    created_at: datetime = Field(description="When it was uploaded.")


class ImageList(BaseModel):
    """Every picture of a product, oldest first (there are few, so one page)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [IMAGE_EXAMPLE], "next_cursor": None}]}
    )

    items: list[ImageOut] = Field(description="The product's pictures.")
    next_cursor: str | None = Field(default=None, description="Always null: one page holds all.")


def image_body(image: ProductImage | ImageRow) -> dict[str, Any]:
    """The JSON object of a stored picture (the `ImageOut` shape)."""
    row = row_of(image, ImageRow)
    variants = variant_urls(row["id"])
    return {
        "id": row["id"],
        "product_id": row["product_id"],
        "url": variants[LISTED],
        "variants": variants,
        "width": row["width"],
        "height": row["height"],
        "content_type": SERVED_TYPE,
        "created_at": row["created_at"],
    }
