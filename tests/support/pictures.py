"""Real image files made by Pillow for the tests, and the catalog's image API around them.

`picture(...)` encodes an image of the size, colours and format asked (with EXIF
orientation, metadata or transparency when asked); `two_colours` has its left half
red and its right half blue, so a test can tell which way it was turned.
`header_only_png(width, height)` is a PNG whose header announces a huge image over
a few bytes of data: what a decompression bomb looks like to a decoder before it
decodes. `upload` posts a file as `multipart/form-data` to a product;
`decoded(response)` opens an answer's bytes with Pillow.
"""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

import httpx
from PIL import Image, ImageCms

API = "/api/catalog"
RED, BLUE = (220, 20, 20), (20, 20, 220)
GPS_IFD = 0x8825
ORIENTATION = 0x0112


def two_colours(width: int, height: int, *, alpha: bool = False) -> Image.Image:
    """Left half red, right half blue (and, with `alpha`, the top row transparent)."""
    image = Image.new("RGBA" if alpha else "RGB", (width, height), RED)
    image.paste(BLUE, (width // 2, 0, width, height))
    if alpha:
        image.paste((0, 0, 0, 0), (0, 0, width, 1))
    return image


def picture(
    width: int = 1600,
    height: int = 1200,
    *,
    fmt: str = "PNG",
    alpha: bool = False,
    orientation: int | None = None,
    metadata: bool = False,
) -> bytes:
    """An image file in `fmt`; with `metadata`, EXIF (camera, GPS) and an sRGB profile."""
    image = two_colours(width, height, alpha=alpha)
    options: dict[str, Any] = {}
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
    if metadata:
        exif[0x010F] = "Camera Maker"
        exif.get_ifd(GPS_IFD)[2] = (51.0, 30.0, 0.0)  # a latitude: where it was taken
        options["icc_profile"] = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    if len(exif):
        options["exif"] = exif.tobytes()
    if fmt == "JPEG" and image.mode == "RGBA":
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def noise_png(width: int, height: int) -> bytes:
    """A PNG that does not compress: about 3 bytes per pixel."""
    out = io.BytesIO()
    Image.effect_noise((width, height), 90).convert("RGB").save(out, "PNG")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def header_only_png(width: int, height: int) -> bytes:
    """A PNG of `width` x `height` one-bit pixels whose data is a few bytes long."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", data)
        + _chunk(b"IEND", b"")
    )


async def upload(
    client: httpx.AsyncClient,
    product_id: str,
    data: bytes,
    headers: dict[str, str],
    *,
    name: str = "photo.png",
    content_type: str = "image/png",
) -> httpx.Response:
    """POST a file to a product's images, as a browser's form would."""
    return await client.post(
        f"{API}/products/{product_id}/images",
        files={"file": (name, data, content_type)},
        headers=headers,
    )


def decoded(response: httpx.Response) -> Image.Image:
    """The image in an answer's body, opened by Pillow."""
    image = Image.open(io.BytesIO(response.content))
    image.load()
    return image
