"""Queries of product images: their rows, their variants' bytes, and what serving reads.

Serving one variant is a direct read (`chassis.data.driver_reads`) of its bytes, type
and tag by primary key; answering a revalidation (`If-None-Match`) reads the tag
alone, so a 304 does not fetch the bytes. Writes run in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog.images.links import Variant
from mercato.catalog.images.processing import Picture
from mercato.catalog.models import (
    ImageRow,
    ImageVariant,
    ProductImage,
    VariantRow,
    VariantTagRow,
)
from mercato.chassis.data.driver_reads import DirectQuery, DirectReader

__all__ = [
    "add_images",
    "count_images",
    "delete_image",
    "get_image",
    "list_images",
    "read_variant",
    "read_variant_tag",
]

_IMAGES = cast(Table, ProductImage.__table__)
_VARIANTS = cast(Table, ImageVariant.__table__)
_ONE_VARIANT = (
    _VARIANTS.c.image_id == bindparam("image_id"),
    _VARIANTS.c.variant == bindparam("variant"),
)
_VARIANT = DirectQuery(
    select(_VARIANTS.c.content_type, _VARIANTS.c.etag, _VARIANTS.c.data).where(*_ONE_VARIANT),
    VariantRow,
)
_VARIANT_TAG = DirectQuery(select(_VARIANTS.c.etag).where(*_ONE_VARIANT), VariantTagRow)
_PRODUCT_IMAGES = DirectQuery(
    select(_IMAGES)
    .where(_IMAGES.c.product_id == bindparam("product_id"))
    .order_by(_IMAGES.c.created_at, _IMAGES.c.id),
    ImageRow,
)
_COUNT = select(func.count()).select_from(_IMAGES).where(_IMAGES.c.product_id == bindparam("p"))


async def read_variant(reader: DirectReader, image_id: str, variant: Variant) -> VariantRow | None:
    """One variant's bytes, media type and tag, or None (a direct read)."""
    return await reader.one(_VARIANT, image_id=image_id, variant=variant)


async def read_variant_tag(
    reader: DirectReader, image_id: str, variant: Variant
) -> VariantTagRow | None:
    """One variant's entity tag without its bytes, or None (a direct read)."""
    return await reader.one(_VARIANT_TAG, image_id=image_id, variant=variant)


async def list_images(reader: DirectReader, product_id: str) -> list[ImageRow]:
    """A product's pictures, oldest first (a direct read)."""
    return await reader.all(_PRODUCT_IMAGES, product_id=product_id)


async def count_images(session: AsyncSession, product_id: str) -> int:
    """How many pictures a product has."""
    return int((await session.execute(_COUNT, {"p": product_id})).scalar_one())


async def get_image(session: AsyncSession, image_id: str) -> ProductImage | None:
    """The picture with this id, or None."""
    return await session.get(ProductImage, image_id)


async def add_images(
    session: AsyncSession, pictures: Sequence[tuple[str, str, Picture]], *, now: datetime
) -> None:
    """Store pictures, each `(image_id, product_id, picture)`, and every variant of them."""
    if not pictures:
        return
    images = [
        {
            "id": image_id,
            "product_id": product_id,
            "width": picture.width,
            "height": picture.height,
            "source_type": picture.source_type,
            "source_bytes": picture.source_bytes,
            "created_at": now,
        }
        for image_id, product_id, picture in pictures
    ]
    variants = [
        {
            "image_id": image_id,
            "variant": name,
            "content_type": encoded.content_type,
            "width": encoded.width,
            "height": encoded.height,
            "etag": encoded.etag,
            "data": encoded.data,
        }
        for image_id, _, picture in pictures
        for name, encoded in picture.variants.items()
    ]
    await session.execute(insert(_IMAGES), images)
    await session.execute(insert(_VARIANTS), variants)


async def delete_image(session: AsyncSession, image_id: str) -> None:
    """Delete a picture; its variants go with it (the foreign key cascades)."""
    await session.execute(delete(_IMAGES).where(_IMAGES.c.id == image_id))
