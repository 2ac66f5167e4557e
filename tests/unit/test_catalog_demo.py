"""Unit tests of the demo catalog and its generator."""

from __future__ import annotations

import json
from collections import Counter

from mercato.catalog.demo.generate import OUTPUT, generate, render
from mercato.catalog.dummyjson import parse_products
from mercato.catalog.images.demo import PALETTE, SIZE, card


def test_the_committed_file_is_what_the_generator_makes() -> None:
    assert OUTPUT.read_text() == render(generate()), "run python -m mercato.catalog.demo.generate"


def test_the_generator_is_deterministic() -> None:
    assert generate() == generate()
    assert generate(seed=1) != generate()


def test_the_demo_catalog_is_about_300_products_in_12_categories() -> None:
    products = json.loads(OUTPUT.read_text())["products"]
    assert len(products) == 300
    assert len(Counter(p["category"] for p in products)) == 12
    assert len({p["sku"] for p in products}) == 300
    assert len({p["title"] for p in products}) == 300
    assert OUTPUT.stat().st_size < 400_000


def test_the_demo_products_are_plausible() -> None:
    products = json.loads(OUTPUT.read_text())["products"]
    assert all(0 <= p["stock"] <= 200 for p in products)
    # No picture on another host: the catalog draws each one when it loads them.
    assert not [p["sku"] for p in products if "images" in p or "thumbnail" in p]
    laptops = [p for p in products if p["category"] == "laptops"]
    assert all({"cpu", "ram_gb", "model", "storage_gb"} <= set(p) for p in laptops)
    chargers = [p for p in products if "charger" in p["tags"] and "wattage" in p]
    assert chargers and all("port_type" in p for p in chargers)
    shirts = [p for p in products if p["category"] == "mens-clothing"]
    assert all(p["sizes"] and p["colors"] for p in shirts)


def test_the_demo_catalog_imports_cleanly() -> None:
    products, issues = parse_products(json.loads(OUTPUT.read_text())["products"], currency="USD")
    assert issues == []
    assert all(p["price_amount"] % 100 == 99 for p in products)


def test_each_demo_product_gets_a_card_of_its_own() -> None:
    kettle = card("Copper Kettle 1.7 L", category="kitchen", brand="Ferrum & Oak")
    teapot = card("Cast Iron Teapot", category="kitchen", brand="Ferrum & Oak")
    assert kettle.size == (SIZE, SIZE)
    assert kettle.getpixel((2, 2)) == PALETTE["kitchen"]  # the category's colour
    assert kettle.tobytes() != teapot.tobytes()  # the title is on it
    long = card("Word " * 60, category="no-such-category", brand=None)
    assert long.getpixel((2, 2)) in PALETTE.values()
    below_three_lines = long.crop((0, 335, SIZE, SIZE)).getcolors()
    assert below_three_lines == [(SIZE * (SIZE - 335), long.getpixel((2, 2)))]
