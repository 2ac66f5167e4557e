"""A product's pictures as a page shows them: the catalog's own, or a neutral placeholder.

The catalog serves the pictures uploaded for a product from the shop's own origin,
at `/api/catalog/images/{id}/{variant}.webp` in three sizes (boxes of 200, 600 and
1200 pixels the picture is fitted into: `thumb`, `medium`, `large`); a product's
`images` lists their `medium` URL and its `thumbnail` a `thumb` one. Only those are
shown: a URL of another site is neither requested by a page (nothing comes from
another origin, and the Content-Security-Policy says `img-src 'self'`) nor trusted
into an attribute. A product without one shows the placeholder.

Each `Picture` carries what an `<img>` needs: the URL, a `srcset` of the larger
sizes, the box's width and height (so the page does not jump as pictures arrive; the
stylesheet fits the picture into it), its alt text, and whether it loads lazily.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PLACEHOLDER", "Picture", "card_picture", "gallery", "own_variant"]

PLACEHOLDER = "placeholder.svg"  # a static file of the storefront
_OWN = re.compile(
    r"^/api/catalog/images/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/"
    r"(thumb|medium|large)\.webp$"
)
BOXES = {"thumb": 200, "medium": 600, "large": 1200}


@dataclass(frozen=True, slots=True)
class Picture:
    """One `<img>`: where from, its sizes, its box and what it shows (`src` None: placeholder)."""

    src: str | None
    alt: str
    width: int
    height: int
    srcset: str = ""
    sizes: str = ""
    lazy: bool = True


def own_variant(url: str | None, variant: str) -> str | None:
    """`variant` of the catalog's own picture at `url`; None for any other URL."""
    found = _OWN.fullmatch(url) if url else None
    return f"/api/catalog/images/{found.group(1)}/{variant}.webp" if found else None


def _srcset(url: str, variants: tuple[str, ...]) -> str:
    return ", ".join(f"{own_variant(url, v)} {BOXES[v]}w" for v in variants)


def card_picture(title: str, thumbnail: str | None, images: tuple[str, ...]) -> Picture:
    """The small picture of a product in a list: its thumbnail, or its first own picture's."""
    for url in (thumbnail, *images):
        small = own_variant(url, "thumb")
        if small is not None:
            assert url is not None
            return Picture(small, title, 200, 200, srcset=_srcset(url, ("thumb", "medium")))
    return Picture(None, "", 200, 200)


def gallery(title: str, thumbnail: str | None, images: tuple[str, ...]) -> tuple[Picture, ...]:
    """A product page's pictures: the first eager, the others lazy (or the placeholder)."""
    own = [url for url in dict.fromkeys(images) if own_variant(url, "medium") is not None]
    if not own and own_variant(thumbnail, "medium") is not None:
        own = [str(thumbnail)]
    if not own:
        return (Picture(None, "", 600, 600, lazy=False),)
    pictures = []
    for index, url in enumerate(own):
        alt = title if index == 0 else f"{title}, picture {index + 1}"
        pictures.append(
            Picture(
                own_variant(url, "medium"),
                alt,
                600,
                600,
                srcset=_srcset(url, ("medium", "large")),
                sizes="(min-width: 48rem) 50vw, 100vw",
                lazy=index > 0,
            )
        )
    return tuple(pictures)
