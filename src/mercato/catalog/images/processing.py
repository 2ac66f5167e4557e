"""Turning uploaded bytes into the pictures the catalog serves (Pillow).

`process(data, max_pixels=...)` accepts only what Pillow decodes as PNG, JPEG, WebP
or GIF (no other decoder is even tried: neither the extension nor the media type the
client claims counts), refuses an image that would decode to more than `max_pixels`
before decoding it (a few kilobytes of PNG can hold gigabytes of pixels; a JPEG is
decoded at a reduced scale when much larger than the largest variant), and takes the
first frame of an animation. The picture is shrunk to the largest variant's box at
once, turned upright by its EXIF orientation, converted to sRGB by its embedded
colour profile, and re-encoded: nothing of the upload but its pixels is kept (no
EXIF, GPS position, XMP or profile reaches a shopper). Each variant
(`links.VARIANTS`) is fitted into its box, never enlarged, and encoded as WebP; a
variant as large as the one above it shares its bytes.

Its failures are `PictureRefused`s: `NotAPicture` (unreadable, another format,
damaged or cut short) and `TooManyPixels`. The work is CPU-bound and runs in
`PICTURES`, a single thread: one picture is decoded at a time in a process, which
bounds the memory uploads can take to one decoded image.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image, ImageCms, UnidentifiedImageError

from mercato.catalog.images.links import VARIANTS, Variant

__all__ = [
    "FORMATS",
    "PICTURES",
    "SERVED_TYPE",
    "Encoded",
    "NotAPicture",
    "Picture",
    "PictureRefused",
    "TooManyPixels",
    "picture_of",
    "process",
]

FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
SERVED_TYPE = "image/webp"
WEBP_QUALITY = 80
WEBP_METHOD = 4  # libwebp's default effort; 0 is ~3x faster for ~20% more bytes
_LARGEST = max(VARIANTS.values())
# How to turn a picture upright, by its EXIF orientation (as `ImageOps.exif_transpose`).
_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_TRANSPOSING = frozenset({5, 6, 7, 8})  # the orientations that swap width and height
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
# What a damaged or hostile file makes Pillow's decoders raise.
_UNREADABLE = (
    UnidentifiedImageError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,  # an error under `-W error`; else Pillow only warns
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
)
PICTURES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="catalog-pictures")


class PictureRefused(Exception):
    """An upload that is not a picture the catalog takes; the message says why."""


class NotAPicture(PictureRefused):
    """Not a PNG, JPEG, WebP or GIF image that decodes whole."""


class TooManyPixels(PictureRefused):
    """An image whose width times height passes the bound."""

    def __init__(self, width: int, height: int, bound: int) -> None:
        super().__init__(f"{width}x{height} pixels is more than the {bound} allowed")
        self.width, self.height, self.bound = width, height, bound


@dataclass(frozen=True, slots=True)
class Encoded:
    """One variant as served: its bytes, their media type, size and entity tag."""

    content_type: str
    width: int
    height: int
    data: bytes
    etag: str


@dataclass(frozen=True, slots=True)
class Picture:
    """A picture ready to store: its upright size and origin, and every variant."""

    width: int
    height: int
    source_type: str
    source_bytes: int
    variants: Mapping[Variant, Encoded]


def process(data: bytes, *, max_pixels: int, method: int = WEBP_METHOD) -> Picture:
    """The picture in `data`, with its variants; a `PictureRefused` saying why not."""
    image, source_type, size = _decode(data, max_pixels)
    return picture_of(
        image, source_type=source_type, source_bytes=len(data), size=size, method=method
    )


def picture_of(
    image: Image.Image,
    *,
    source_type: str,
    source_bytes: int,
    size: tuple[int, int] | None = None,
    method: int = WEBP_METHOD,
    quality: int = WEBP_QUALITY,
) -> Picture:
    """Every variant of an upright RGB(A) `image`, each fitted into its box.

    Each variant is made from the one above it (a smaller source is cheaper to
    resample), and one the same size as the one above it shares its bytes.
    """
    variants: dict[Variant, Encoded] = {}
    current, encoded = image, None
    for name, box in VARIANTS.items():
        if encoded is None or max(current.size) > box:
            current = _fitted(current, box)
            encoded = _encode(current, method, quality)
        variants[name] = encoded
    width, height = size or image.size
    return Picture(width, height, source_type, source_bytes, variants)


def _decode(data: bytes, max_pixels: int) -> tuple[Image.Image, str, tuple[int, int]]:
    """The upright, sRGB picture of `data` fitted into the largest box, its type and size.

    It is shrunk first, so the steps after (turning, colour conversion) work on at
    most 1200 x 1200 pixels, and a JPEG much larger than that is decoded at a half,
    a quarter or an eighth of its size by libjpeg itself: the bound is on the pixels
    decoded, which is what costs memory.
    """
    try:
        with Image.open(io.BytesIO(data), formats=tuple(FORMATS)) as opened:
            width, height = opened.size
            source_type = FORMATS[str(opened.format)]
            orientation = opened.getexif().get(0x0112)
            if opened.format == "JPEG":
                opened.draft("RGB", _fitted_size(opened.size, _LARGEST))
            if opened.width * opened.height > max_pixels:
                raise TooManyPixels(width, height, max_pixels)
            opened.load()  # the first frame of an animation
            image = _fitted(_resamplable(opened), _LARGEST)
            image = _srgb(image.transpose(_TURNS[orientation]) if orientation in _TURNS else image)
    except PictureRefused:
        raise
    except _UNREADABLE:
        raise NotAPicture("not a PNG, JPEG, WebP or GIF image that decodes whole") from None
    size = (height, width) if orientation in _TRANSPOSING else (width, height)
    return image, source_type, size


def _has_alpha(image: Image.Image) -> bool:
    return "A" in image.getbands() or "transparency" in image.info


def _resamplable(image: Image.Image) -> Image.Image:
    """`image` in a mode Pillow resamples well: a palette or bilevel one becomes RGB(A)."""
    if image.mode in ("RGB", "RGBA", "L", "CMYK"):
        return image
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


def _srgb(image: Image.Image) -> Image.Image:
    """`image` as RGB (RGBA when it has a transparent pixel), in sRGB, without metadata."""
    target = "RGBA" if image.mode == "RGBA" else "RGB"
    profile = image.info.get("icc_profile")
    if profile:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            converted = ImageCms.profileToProfile(image, source, _SRGB, outputMode=target)
        except (ImageCms.PyCMSError, OSError, ValueError):
            converted = None  # a broken profile: its pixels as they are
        if converted is not None:
            image = converted
    if image.mode != target:
        image = image.convert(target)
    if target == "RGBA" and image.getchannel("A").getextrema() == (255, 255):
        image = image.convert("RGB")  # opaque after all: no alpha to encode
    image.info.clear()  # EXIF, XMP, the profile: nothing but the pixels goes on
    return image


def _fitted(image: Image.Image, box: int) -> Image.Image:
    """`image` fitted into a `box` x `box` square, keeping its proportions (never enlarged).

    A new image: the source is read, never copied whole (it may be the largest thing
    in memory).
    """
    longest = max(image.size)
    if longest <= box:
        return image
    if longest % box == 0:  # a whole factor: averaging blocks is exact, and 15x faster
        return image.reduce(longest // box)
    size = _fitted_size(image.size, box)
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _fitted_size(size: tuple[int, int], box: int) -> tuple[int, int]:
    """The size of `size` fitted into a `box` x `box` square (never enlarged)."""
    width, height = size
    scale = min(1.0, box / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _encode(image: Image.Image, method: int, quality: int) -> Encoded:
    out = io.BytesIO()
    image.save(out, "WEBP", quality=quality, method=method)
    data = out.getvalue()
    etag = hashlib.sha256(data).hexdigest()[:32]
    return Encoded(SERVED_TYPE, image.width, image.height, data, etag)
