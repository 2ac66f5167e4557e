"""Write the demo catalog, `products.json`, deterministically from seeded recipes.

Run `python -m mercato.catalog.demo.generate` after changing a recipe and commit the
output; a unit test checks that the committed file is what the generator makes. The
file is in the dummyjson products format, so the demo catalog goes through the same
import path as any other: 12 categories of 25 products, with invented brands, prices
in whole cents and stock from 0 to 200. It names no pictures: the catalog draws one
for each demo product when it loads them (`catalog.images.demo`), so the demo shop
needs no network.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from random import Random
from typing import Any

from mercato.catalog.demo import electronics, living
from mercato.catalog.demo.electronics import Draft, Recipe

__all__ = ["CATEGORIES", "OUTPUT", "SEED", "generate", "main", "render"]

SEED = 20250101
OUTPUT = Path(__file__).with_name("products.json")
CATEGORIES: list[tuple[str, str, Recipe, int]] = [
    ("laptops", "LAP", electronics.laptops, 2),
    ("smartphones", "PHN", electronics.smartphones, 2),
    ("mobile-accessories", "ACC", electronics.mobile_accessories, 1),
    ("audio", "AUD", electronics.audio, 1),
    ("cameras", "CAM", electronics.cameras, 2),
    ("smart-home", "SMH", living.smart_home, 2),
    ("kitchen", "KIT", living.kitchen, 2),
    ("furniture", "FUR", living.furniture, 5),
    ("mens-clothing", "MEN", living.mens_clothing, 0),
    ("womens-clothing", "WOM", living.womens_clothing, 0),
    ("footwear", "SHO", living.footwear, 1),
    ("sports-outdoors", "SPO", living.sports_outdoors, 2),
]
PER_CATEGORY = 25
SHIPPING = ["Ships in 1-2 business days", "Ships overnight", "Ships in 3-5 business days"]


def _warranty(years: int) -> str:
    return "No warranty" if years == 0 else f"{years} year{'s' if years > 1 else ''} warranty"


def _availability(stock: int) -> str:
    return "Out of Stock" if stock == 0 else "Low Stock" if stock < 10 else "In Stock"


def _item(r: Random, n: int, *, slug: str, prefix: str, years: int, draft: Draft) -> dict[str, Any]:
    brand_code = re.sub(r"[^A-Z]", "", draft.brand.upper())[:3]
    sku = f"{prefix}-{brand_code}-{n:04d}"
    stock = 0 if r.random() < 0.07 else r.randint(1, 200)
    return {
        "id": n,
        "title": draft.title,
        "description": draft.description,
        "category": slug,
        "price": round(draft.cents / 100, 2),
        "discountPercentage": r.choice([0, 0, 0, 5, 10, 15, 20]),
        "rating": round(r.uniform(3.2, 5.0), 1),
        "stock": stock,
        "tags": draft.tags,
        "brand": draft.brand,
        "sku": sku,
        **draft.attributes,
        "warrantyInformation": _warranty(years),
        "shippingInformation": r.choice(SHIPPING),
        "availabilityStatus": _availability(stock),
        "returnPolicy": "30 days return policy",
    }


def generate(seed: int = SEED) -> dict[str, Any]:
    """The demo catalog as a dummyjson document."""
    products: list[dict[str, Any]] = []
    for slug, prefix, recipe, years in CATEGORIES:
        r = Random(f"{seed}:{slug}")
        titles: set[str] = set()
        for attempt, draft in enumerate(recipe(r)):
            if attempt > 50 * PER_CATEGORY:
                raise RuntimeError(f"the {slug} recipe does not make {PER_CATEGORY} titles")
            if draft.title in titles:
                continue
            titles.add(draft.title)
            products.append(
                _item(r, len(products) + 1, slug=slug, prefix=prefix, years=years, draft=draft)
            )
            if len(titles) == PER_CATEGORY:
                break
    return {"products": products, "total": len(products), "skip": 0, "limit": len(products)}


def render(document: dict[str, Any]) -> str:
    """The committed text of a document (stable formatting)."""
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def main(write: Callable[[str], object] = OUTPUT.write_text) -> None:
    """Regenerate `products.json`."""
    write(render(generate()))


if __name__ == "__main__":
    main()
