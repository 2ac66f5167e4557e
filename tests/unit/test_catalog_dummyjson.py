"""Unit tests of reading dummyjson products into catalog columns."""

from __future__ import annotations

from typing import Any

from mercato.catalog.dummyjson import generated_sku, parse_products, slugify


def item(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 1,
        "title": "Essence Mascara Lash Princess",
        "description": "A popular mascara.",
        "category": "beauty",
        "price": 9.99,
        "discountPercentage": 7.17,
        "rating": 4.94,
        "stock": 5,
        "tags": ["beauty", "mascara"],
        "brand": "Essence",
        "sku": "RCH45Q1A",
        "weight": 2,
        "dimensions": {"width": 23.17, "height": 14.43, "depth": 28.01},
        "warrantyInformation": "1 month warranty",
        "images": ["https://cdn.example.com/1.png"],
        "thumbnail": "https://cdn.example.com/thumb.png",
    }
    base.update(fields)
    return base


def test_a_dummyjson_item_becomes_product_columns() -> None:
    products, issues = parse_products([item()], currency="USD")
    assert issues == []
    [product] = products
    assert product["price_amount"] == 999
    assert product["currency"] == "USD"
    assert product["sku"] == "RCH45Q1A"
    assert product["category"] == "beauty"
    assert product["tags"] == ["beauty", "mascara"]
    assert product["attributes"] == {
        "discountPercentage": 7.17,
        "weight": 2,
        "dimensions": {"width": 23.17, "height": 14.43, "depth": 28.01},
        "warrantyInformation": "1 month warranty",
        "source_id": 1,
    }


def test_the_default_currency_and_an_items_own() -> None:
    [eur], _ = parse_products([item()], currency="EUR")
    [jpy], _ = parse_products([item(price=1500, currency="JPY")], currency="EUR")
    assert (eur["price_amount"], eur["currency"]) == (999, "EUR")
    assert (jpy["price_amount"], jpy["currency"]) == (1500, "JPY")


def test_a_missing_sku_is_derived_from_id_and_title() -> None:
    raw = item(sku=None)
    products, issues = parse_products([raw], currency="USD")
    assert issues == []
    assert products[0]["sku"] == "ESSENCE-MASCARA-LASH-PRINCESS-1"
    assert generated_sku(None, "Über Kettle!") == "BER-KETTLE"
    assert generated_sku(7, "") == "ITEM-7"


def test_categories_become_slugs() -> None:
    [product], _ = parse_products([item(category="Home Decoration")], currency="USD")
    assert product["category"] == "home-decoration"
    assert slugify("  Men's Shirts ") == "men-s-shirts"


def test_every_problem_is_reported_with_index_and_field() -> None:
    items = [
        item(),
        item(sku="B", price=-1),
        "not an object",
        item(sku="C", title=""),
        item(sku="D", stock=-3, images=["ftp://x"]),
        item(sku="RCH45Q1A"),
    ]
    products, issues = parse_products(items, currency="USD")
    found = {(i.index, i.field) for i in issues}
    assert found == {
        (1, "price"),
        (2, "item"),
        (3, "title"),
        (4, "stock"),
        (4, "images.0"),
        (5, "sku"),
    }
    assert len(products) == 1


def test_a_price_beyond_the_limit_is_refused() -> None:
    _, issues = parse_products([item(price=1e13)], currency="USD")
    assert [(i.index, i.field) for i in issues] == [(0, "price")]


def test_stock_beyond_the_limit_is_refused() -> None:
    # On PostgreSQL the stock column is a 32-bit integer; a larger stock was a 500.
    _, issues = parse_products([item(stock=2**31)], currency="USD")
    assert [(i.index, i.field) for i in issues] == [(0, "stock")]
    products, issues = parse_products([item(stock=2**31 - 1)], currency="USD")
    assert issues == [] and products[0]["on_hand"] == 2**31 - 1
