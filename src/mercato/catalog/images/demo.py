"""The demo catalog's pictures, drawn at its first start: no file, no network.

Each demo product gets a card of its own (`card`): a square in its category's
colour, a pictogram of the category in a lighter tint (a laptop, a phone, a tent...),
the brand above and the title below in white, wrapped to three lines. The cards
are `SIZE` pixels square, so their `medium` and `large` variants are one encoding
(nothing is enlarged), made with libwebp's fastest effort at quality 60: flat
colours compress well anyway, and the whole set of 300 is drawn in about a second
(docs/decisions.md, "Product images").
"""

from __future__ import annotations

import textwrap
import zlib
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from mercato.catalog.images.processing import SERVED_TYPE, Picture, picture_of

__all__ = ["PALETTE", "SIZE", "card", "demo_pictures"]

SIZE = 400
TITLE_LINES = 3
# libwebp's fastest effort, and a quality that flat colours and large text need
# (the same to the eye as 80 here, a third faster to encode).
FASTEST, QUALITY = 0, 60
TITLE_SIZE, BRAND_SIZE = 22, 16  # pixels
_MARGIN = 28
Colour = tuple[int, int, int]
# Deep enough for white text to read on (WCAG contrast over 4.5:1).
PALETTE: dict[str, Colour] = {
    "laptops": (38, 70, 140),
    "smartphones": (20, 100, 110),
    "mobile-accessories": (90, 70, 150),
    "audio": (150, 45, 80),
    "cameras": (60, 60, 70),
    "smart-home": (170, 75, 20),
    "kitchen": (140, 50, 40),
    "furniture": (110, 75, 45),
    "mens-clothing": (35, 85, 60),
    "womens-clothing": (145, 40, 120),
    "footwear": (80, 90, 40),
    "sports-outdoors": (30, 110, 70),
}
Pictogram = Callable[[ImageDraw.ImageDraw, Colour], None]


def _laptop(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.rounded_rectangle((120, 70, 280, 175), 8, fill=c)
    d.polygon([(95, 185), (305, 185), (320, 205), (80, 205)], fill=c)


def _phone(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.rounded_rectangle((160, 55, 240, 215), 16, fill=c)


def _plug(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.rounded_rectangle((150, 110, 250, 200), 14, fill=c)
    d.rectangle((170, 70, 185, 110), fill=c)
    d.rectangle((215, 70, 230, 110), fill=c)


def _headphones(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.arc((120, 60, 280, 220), 180, 360, fill=c, width=14)
    d.rounded_rectangle((110, 135, 150, 210), 12, fill=c)
    d.rounded_rectangle((250, 135, 290, 210), 12, fill=c)


def _camera(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.rounded_rectangle((110, 90, 290, 210), 14, fill=c)
    d.rectangle((150, 72, 200, 92), fill=c)
    d.ellipse((160, 105, 240, 185), fill=PALETTE["cameras"])


def _bulb(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.ellipse((145, 55, 255, 165), fill=c)
    d.rectangle((175, 160, 225, 210), fill=c)


def _mug(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.rounded_rectangle((130, 80, 240, 210), 10, fill=c)
    d.arc((215, 110, 285, 180), 270, 90, fill=c, width=14)


def _table(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.rectangle((100, 100, 300, 120), fill=c)
    d.rectangle((115, 120, 130, 210), fill=c)
    d.rectangle((270, 120, 285, 210), fill=c)


def _shirt(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.polygon([(160, 60), (240, 60), (300, 100), (275, 130), (255, 115), (255, 215),
               (145, 215), (145, 115), (125, 130), (100, 100)], fill=c)  # fmt: skip


def _dress(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.polygon([(175, 55), (225, 55), (235, 120), (290, 215), (110, 215), (165, 120)], fill=c)


def _shoe(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.polygon([(100, 120), (160, 120), (200, 150), (290, 165), (300, 200), (100, 200)], fill=c)


def _tent(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.polygon([(200, 60), (310, 210), (90, 210)], fill=c)


def _circle(d: ImageDraw.ImageDraw, c: Colour) -> None:
    d.ellipse((140, 70, 260, 190), fill=c)


PICTOGRAMS: dict[str, Pictogram] = {
    "laptops": _laptop,
    "smartphones": _phone,
    "mobile-accessories": _plug,
    "audio": _headphones,
    "cameras": _camera,
    "smart-home": _bulb,
    "kitchen": _mug,
    "furniture": _table,
    "mens-clothing": _shirt,
    "womens-clothing": _dress,
    "footwear": _shoe,
    "sports-outdoors": _tent,
}


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


@cache
def _glyph(char: str, size: int) -> tuple[Image.Image, float, int, int]:
    """A character's mask, advance and offset: drawn once, pasted wherever it is used.

    Pillow's `ImageDraw.text` lays out and rasterizes each line anew, which took most
    of a card's drawing; the demo titles use some 80 characters in two sizes.
    """
    font = _font(size)
    left, top, right, bottom = (int(edge) for edge in font.getbbox(char))
    mask = Image.new("L", (right - left, bottom - top))
    ImageDraw.Draw(mask).text((-left, -top), char, font=font, fill=255)
    return mask, font.getlength(char), left, top


def _width(text: str, size: int) -> float:
    return sum(_glyph(char, size)[1] for char in text)


def _write(image: Image.Image, text: str, *, top: int, size: int) -> None:
    """`text` in white, centred on `image`, its glyphs' tops from `top` (anchor `mt`)."""
    x = (image.width - _width(text, size)) / 2
    for char in text:
        mask, advance, left, offset = _glyph(char, size)
        if mask.width and mask.height:
            at = (round(x) + left, top + offset)
            image.paste((255, 255, 255), (*at, at[0] + mask.width, at[1] + mask.height), mask)
        x += advance


def _colour(category: str | None) -> Colour:
    if category in PALETTE:
        return PALETTE[category]
    palette = list(PALETTE.values())
    return palette[zlib.crc32((category or "").encode()) % len(palette)]


def _tint(colour: Colour) -> Colour:
    r, g, b = colour
    return (r + (255 - r) * 3 // 5, g + (255 - g) * 3 // 5, b + (255 - b) * 3 // 5)


def _lines(title: str, width: int) -> list[str]:
    """`title` in at most `TITLE_LINES` lines that fit `width` pixels (the last cut short)."""
    for chars in range(40, 10, -2):
        lines = textwrap.wrap(title, chars)
        if all(_width(line, TITLE_SIZE) <= width for line in lines):
            break
    if len(lines) > TITLE_LINES:
        lines = [
            *lines[: TITLE_LINES - 1],
            textwrap.shorten(" ".join(lines[TITLE_LINES - 1 :]), chars, placeholder="..."),
        ]
    return lines


def card(title: str, *, category: str | None, brand: str | None) -> Image.Image:
    """A demo product's picture: its category's colour and pictogram, brand and title."""
    colour = _colour(category)
    image = Image.new("RGB", (SIZE, SIZE), colour)
    draw = ImageDraw.Draw(image)
    PICTOGRAMS.get(category or "", _circle)(draw, _tint(colour))
    if brand:
        _write(image, brand.upper(), top=24, size=BRAND_SIZE)
    for n, line in enumerate(_lines(title, SIZE - 2 * _MARGIN)):
        _write(image, line, top=240 + 30 * n, size=TITLE_SIZE)
    return image


def demo_pictures(products: Sequence[tuple[str, str | None, str | None]]) -> list[Picture]:
    """The picture of each `(title, category, brand)`, in order (CPU-bound: run it aside)."""
    pictures = []
    for title, category, brand in products:
        image = card(title, category=category, brand=brand)
        picture = picture_of(
            image, source_type=SERVED_TYPE, source_bytes=0, method=FASTEST, quality=QUALITY
        )
        # As if its large variant had been uploaded.
        pictures.append(replace(picture, source_bytes=len(picture.variants["large"].data)))
    return pictures
