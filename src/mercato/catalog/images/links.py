"""The URLs of the catalog's own pictures, and how a product's lists of them change.

A picture is served at `/api/catalog/images/{image_id}/{variant}.webp`, a path
relative to the shop's origin (the gateway routes it to the catalog), so that a
storefront whose Content-Security-Policy says `img-src 'self'` shows it. Variants
are boxes the picture is fitted into, never enlarged: `thumb` (200 px), `medium`
(600 px), `large` (1200 px).

A product's `images` lists the `medium` URL of each picture uploaded for it, after
whatever URLs it had; its `thumbnail` is the `thumb` URL of its first own picture
unless an administrator set another of the catalog's own. Removing a picture takes
each of its URLs out of both.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal, get_args

__all__ = [
    "IMAGES_PATH",
    "IMAGE_ID_PATTERN",
    "LISTED",
    "OWN_URL_PATTERN",
    "THUMBNAIL",
    "VARIANTS",
    "Variant",
    "image_id_of",
    "is_image_id",
    "variant_url",
    "variant_urls",
    "with_image",
    "without_image",
]

Variant = Literal["thumb", "medium", "large"]
# The box each variant fits into (its longest side at most), largest first.
VARIANTS: dict[Variant, int] = {"large": 1200, "medium": 600, "thumb": 200}
IMAGES_PATH = "/api/catalog/images"
IMAGE_ID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
OWN_URL_PATTERN = (
    rf"{re.escape(IMAGES_PATH)}/({IMAGE_ID_PATTERN})/({'|'.join(get_args(Variant))})\.webp"
)
_OWN_URL = re.compile(OWN_URL_PATTERN)
_IMAGE_ID = re.compile(IMAGE_ID_PATTERN)
LISTED: Variant = "medium"  # the variant a product's `images` lists
THUMBNAIL: Variant = "thumb"


def is_image_id(value: str) -> bool:
    """Whether `value` is written as a picture's id (a lower-case UUID)."""
    return _IMAGE_ID.fullmatch(value) is not None


def variant_url(image_id: str, variant: Variant) -> str:
    """Where one variant of a picture is served, from the shop's origin."""
    return f"{IMAGES_PATH}/{image_id}/{variant}.webp"


def variant_urls(image_id: str) -> dict[Variant, str]:
    """Every variant's URL, smallest first."""
    return {name: variant_url(image_id, name) for name in reversed(VARIANTS)}


def image_id_of(url: str | None) -> str | None:
    """The id of the catalog's own picture at `url`, or None for any other URL."""
    found = _OWN_URL.fullmatch(url) if url else None
    return found.group(1) if found else None


def with_image(
    images: Sequence[str], thumbnail: str | None, image_id: str
) -> tuple[list[str], str | None]:
    """A product's `images` and `thumbnail` once a picture of it is added."""
    listed = [*images, variant_url(image_id, LISTED)]
    if image_id_of(thumbnail) is None:  # none yet, or another site's: the own one wins
        thumbnail = variant_url(image_id, THUMBNAIL)
    return listed, thumbnail


def without_image(
    images: Sequence[str], thumbnail: str | None, image_id: str
) -> tuple[list[str], str | None]:
    """A product's `images` and `thumbnail` once a picture of it is removed.

    A thumbnail that was this picture becomes that of the next own picture the
    product lists, or none.
    """
    listed = [url for url in images if image_id_of(url) != image_id]
    if image_id_of(thumbnail) == image_id:
        others = (found for url in listed if (found := image_id_of(url)) is not None)
        following = next(others, None)
        thumbnail = variant_url(following, THUMBNAIL) if following is not None else None
    return listed, thumbnail
