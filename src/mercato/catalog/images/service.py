"""The operations on product images: add one to a product, remove one, list, serve.

Adding a picture is one transaction with its product's row locked: the product must
still exist and have room (`images_per_product` pictures, and at most `MAX_LISTED`
URLs in its `images`, else 409), the picture and its variants are stored, the
product lists it (`links.with_image`) and `product.updated` is written to the
outbox. Removing one is the same in reverse. The upload is decoded and re-encoded
before the transaction (`processing`, in its own thread), so no lock is held while
Pillow works; `check_room` turns away, before the body is read, what would fail.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from mercato.catalog import service as products
from mercato.catalog import store as product_store
from mercato.catalog.images import links, store
from mercato.catalog.images.links import VARIANTS, Variant
from mercato.catalog.images.processing import PICTURES, Picture, PictureRefused, process
from mercato.catalog.images.schemas import image_body
from mercato.catalog.models import Product, VariantRow
from mercato.chassis.data.database import Database, begin_write
from mercato.chassis.data.driver_reads import DirectReader
from mercato.chassis.events import Outbox
from mercato.chassis.web.errors import Conflict, NotFound, Unprocessable, field_error

__all__ = [
    "FILE_FIELD",
    "MAX_LISTED",
    "add_image",
    "check_room",
    "delete_image",
    "find_variant",
    "list_images",
    "picture_of_upload",
    "variant_tag",
]

FILE_FIELD = "file"
MAX_LISTED = 20  # a product's `images` holds at most this many URLs (`ProductIn`)


def _room_left(product_id: str, own: int, listed: int, limit: int) -> None:
    """409 when a product has no room for another picture."""
    if own >= limit:
        raise Conflict(
            f"Product {product_id} has {own} images, the most it may have; delete one first."
        )
    if listed >= MAX_LISTED:
        raise Conflict(
            f"Product {product_id} lists {listed} image URLs, the most it may; remove one first."
        )


async def check_room(database: Database, *, product_id: str, limit: int) -> None:
    """404 for no such product, 409 when it has no room for a picture (direct reads)."""
    product = await product_store.read_product(database.reader, product_id)
    if product is None:
        raise NotFound(f"There is no product {product_id}.")
    own = await store.list_images(database.reader, product_id)
    _room_left(product_id, len(own), len(product["images"]), limit)


async def picture_of_upload(data: bytes, *, max_pixels: int) -> Picture:
    """The picture in an upload, decoded aside; 422 naming the file when it is refused."""
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(PICTURES, lambda: process(data, max_pixels=max_pixels))
    except PictureRefused as refused:
        raise Unprocessable(
            f"The file is refused: {refused}.", errors=[field_error(FILE_FIELD, str(refused))]
        ) from None


async def _locked(session: AsyncSession, product_id: str) -> Product:
    product = await product_store.get_product(session, product_id, for_update=True)
    if product is None:
        raise NotFound(f"There is no product {product_id}.")
    return product


async def add_image(
    session: AsyncSession, *, outbox: Outbox, product_id: str, picture: Picture, limit: int
) -> dict[str, Any]:
    """Store a picture of a product and list it on the product; its body (`ImageOut`)."""
    await begin_write(session)
    product = await _locked(session, product_id)
    own = await store.count_images(session, product_id)
    _room_left(product_id, own, len(product.images), limit)
    image_id, now = str(uuid.uuid4()), datetime.now(UTC)
    async with products.writing(session):
        await store.add_images(session, [(image_id, product_id, picture)], now=now)
        product.images, product.thumbnail = links.with_image(
            product.images, product.thumbnail, image_id
        )
        product.updated_at = now
        await products.product_changed(session, outbox=outbox, product=product)
    return image_body(
        {
            "id": image_id,
            "product_id": product_id,
            "width": picture.width,
            "height": picture.height,
            "source_type": picture.source_type,
            "source_bytes": picture.source_bytes,
            "created_at": now,
        }
    )


async def delete_image(
    session: AsyncSession, *, outbox: Outbox, product_id: str, image_id: str
) -> None:
    """Delete a picture of a product and take its URLs off the product."""
    await begin_write(session)
    product = await _locked(session, product_id)
    image = await store.get_image(session, image_id) if links.is_image_id(image_id) else None
    if image is None or image.product_id != product_id:
        raise NotFound(f"Product {product_id} has no image {image_id}.")
    images, thumbnail = links.without_image(product.images, product.thumbnail, image_id)
    async with products.writing(session):
        await store.delete_image(session, image_id)
        if (images, thumbnail) != (product.images, product.thumbnail):
            product.images, product.thumbnail = images, thumbnail
            product.updated_at = datetime.now(UTC)
            await products.product_changed(session, outbox=outbox, product=product)


async def list_images(database: Database, *, product_id: str) -> list[dict[str, Any]]:
    """A product's pictures, oldest first; 404 when there is no such product."""
    if await product_store.read_product(database.reader, product_id) is None:
        raise NotFound(f"There is no product {product_id}.")
    return [image_body(row) for row in await store.list_images(database.reader, product_id)]


def _variant(image_id: str, variant: str) -> Variant:
    """The variant named, for a well-formed id; 404 for anything else (never a query)."""
    if not links.is_image_id(image_id) or variant not in VARIANTS:
        raise NotFound(f"There is no image {image_id} in {variant}.")
    return variant


async def variant_tag(reader: DirectReader, *, image_id: str, variant: str) -> str:
    """The entity tag of one variant of a picture (its bytes unread); 404 when none."""
    row = await store.read_variant_tag(reader, image_id, _variant(image_id, variant))
    if row is None:
        raise NotFound(f"There is no image {image_id}.")
    return row["etag"]


async def find_variant(reader: DirectReader, *, image_id: str, variant: str) -> VariantRow:
    """One variant of a picture: its bytes, media type and tag; 404 when there is none."""
    row = await store.read_variant(reader, image_id, _variant(image_id, variant))
    if row is None:
        raise NotFound(f"There is no image {image_id}.")
    return row
