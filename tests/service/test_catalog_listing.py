"""Service tests of listing products: filters, full-text search, sort orders, cursor paging."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mercato.catalog.app import create_app
from mercato.catalog.settings import load_settings
from mercato.chassis.web.paging import encode_cursor
from tests.support.apps import running
from tests.support.tokens import TokenFactory

PRODUCTS = "/api/catalog/products"
SORTS = ["newest", "price_asc", "price_desc", "title"]


def item(sku: str, title: str, price: float, category: str, **fields: Any) -> dict[str, Any]:
    return {"sku": sku, "title": title, "price": price, "category": category, **fields}


CATALOG = [
    item("LAP-1", "Northwind Aero 14 Laptop", 999.99, "laptops", brand="Northwind"),
    item("LAP-2", "Northwind Forge 16 Gaming Laptop", 1999.99, "laptops", brand="Northwind"),
    item("LAP-3", "Kestrel Swift Laptop 13", 999.99, "laptops", brand="Kestrel"),
    item("LAP-4", "Kestrel Swift Pro Laptop", 1499.99, "laptops", brand="Kestrel"),
    item("LAP-5", "Vantix Titan 17 Laptop", 2499.99, "laptops", brand="Vantix"),
    item("ACC-1", "VoltKit 65W Charger", 39.99, "accessories", tags=["charger", "usb-c"]),
    item("ACC-2", "VoltKit 20W Charger", 19.99, "accessories", tags=["charger", "usb-c"]),
    item("ACC-3", "Chargewell 100W Charger", 59.99, "accessories", tags=["charger", "gan"]),
    item("ACC-4", "Braided Cable 2 m", 19.99, "accessories", tags=["cable", "usb-c"]),
    item("ACC-5", "Power Bank 20000", 49.99, "accessories", brand="Chargewell"),
    item("MEN-1", "Oxford Shirt", 49.99, "mens-clothing", brand="Fieldmark"),
    item("MEN-2", "Crew Neck Tee", 19.99, "mens-clothing", brand="Fieldmark"),
    item("MEN-3", "Selvedge Jeans", 89.99, "mens-clothing", brand="Northline"),
    item("MEN-4", "Zip Hoodie", 59.99, "mens-clothing", brand="Northline"),
    item("MEN-5", "Field Jacket", 179.99, "mens-clothing", brand="Northline"),
    item(
        "HOM-1",
        "Oak Desk Stand",
        79.99,
        "home",
        description="Raises your laptop to eye level; fits every notebook.",
    ),
]
for n in range(2, 11):
    CATALOG.append(item(f"HOM-{n}", f"Ceramic Mug No. {n}", 12.99 + n % 3, "home"))


@pytest.fixture
def admin(tokens: TokenFactory) -> dict[str, str]:
    return tokens.headers(roles=["admin"])


@pytest.fixture
async def client(
    tmp_path: Path, tokens: TokenFactory, admin: dict[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(load_settings(data_dir=tmp_path, broker_url=""))
    async with running(app, tokens) as client:
        response = await client.post(
            f"{PRODUCTS}/import", json={"products": CATALOG}, headers=admin
        )
        assert response.json()["created"] == len(CATALOG)
        yield client


async def listing(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    response = await client.get(PRODUCTS, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def every_page(
    client: httpx.AsyncClient, cursor: str | None = None, **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = await listing(client, **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert len(page["items"]) == params["limit"]


def skus(items: list[dict[str, Any]]) -> list[str]:
    return [i["sku"] for i in items]


async def test_listing_is_public_and_pages_by_20(client: httpx.AsyncClient) -> None:
    first = await listing(client)
    assert len(first["items"]) == 20
    assert first["next_cursor"]
    rest = await listing(client, cursor=first["next_cursor"])
    assert len(rest["items"]) == len(CATALOG) - 20
    assert rest["next_cursor"] is None


@pytest.mark.parametrize("sort", SORTS)
async def test_paging_visits_every_product_once_in_order(
    client: httpx.AsyncClient, sort: str
) -> None:
    whole = (await listing(client, sort=sort, limit=100))["items"]
    paged = await every_page(client, sort=sort, limit=4)
    assert skus(paged) == skus(whole)
    assert len(set(skus(paged))) == len(CATALOG)


async def test_price_orders_break_ties_by_id(client: httpx.AsyncClient) -> None:
    ascending = (await listing(client, sort="price_asc", limit=100))["items"]
    keys = [(i["price"]["amount"], i["id"]) for i in ascending]
    assert keys == sorted(keys)
    descending = (await listing(client, sort="price_desc", limit=100))["items"]
    keys = [(i["price"]["amount"], i["id"]) for i in descending]
    assert keys == sorted(keys, reverse=True)
    assert descending[0]["sku"] == "LAP-5"


async def test_title_and_newest_orders(client: httpx.AsyncClient, admin: dict[str, str]) -> None:
    titles = [i["title"] for i in (await listing(client, sort="title", limit=100))["items"]]
    assert titles == sorted(titles)
    await client.post(
        f"{PRODUCTS}/import", json={"products": [item("NEW-1", "Late", 1, "home")]}, headers=admin
    )
    assert (await listing(client, limit=1))["items"][0]["sku"] == "NEW-1"


async def test_filters(client: httpx.AsyncClient) -> None:
    laptops = await listing(client, category="laptops")
    assert sorted(skus(laptops["items"])) == ["LAP-1", "LAP-2", "LAP-3", "LAP-4", "LAP-5"]
    northline = await listing(client, brand="NORTHLINE")
    assert sorted(skus(northline["items"])) == ["MEN-3", "MEN-4", "MEN-5"]
    cheap = await listing(client, min_price=1999, max_price=4999, limit=100)
    amounts = [i["price"]["amount"] for i in cheap["items"]]
    assert amounts and all(1999 <= a <= 4999 for a in amounts)
    assert 1999 in amounts and 4999 in amounts
    both = await listing(client, category="accessories", max_price=1999)
    assert sorted(skus(both["items"])) == ["ACC-2", "ACC-4"]


async def test_search_finds_words_in_title_description_brand_tags_and_category(
    client: httpx.AsyncClient,
) -> None:
    laptops = await listing(client, q="laptop")
    assert set(skus(laptops["items"])) == {"LAP-1", "LAP-2", "LAP-3", "LAP-4", "LAP-5", "HOM-1"}
    assert set(skus((await listing(client, q="LAPTOPS"))["items"])) == set(skus(laptops["items"]))
    assert set(skus((await listing(client, q="chargewell"))["items"])) == {"ACC-3", "ACC-5"}
    assert set(skus((await listing(client, q="usb-c"))["items"])) == {"ACC-1", "ACC-2", "ACC-4"}
    clothing = await listing(client, q="clothing")
    assert set(skus(clothing["items"])) == {"MEN-1", "MEN-2", "MEN-3", "MEN-4", "MEN-5"}
    assert skus((await listing(client, q="gaming laptop"))["items"]) == ["LAP-2"]


async def test_relevance_lists_named_products_first_the_newest_first(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    # The laptops have the word in their title; the desk stand only in its description.
    found = skus((await listing(client, q="laptop"))["items"])
    assert found == ["LAP-5", "LAP-4", "LAP-3", "LAP-2", "LAP-1", "HOM-1"]
    assert skus((await listing(client, q="laptop", sort="relevance"))["items"]) == found
    # By the brand too; only in tags: the second tier alone, still newest first.
    assert skus((await listing(client, q="chargewell"))["items"]) == ["ACC-5", "ACC-3"]
    assert skus((await listing(client, q="usb-c"))["items"]) == ["ACC-4", "ACC-2", "ACC-1"]
    later = [
        item("LAP-6", "Budget Laptop 14", 399.99, "laptops"),
        item("BAG-1", "Sleeve", 29.99, "accessories", description="Fits a 14-inch laptop."),
    ]
    await client.post(f"{PRODUCTS}/import", json={"products": later}, headers=admin)
    found = skus((await listing(client, q="laptop"))["items"])
    assert found == ["LAP-6", "LAP-5", "LAP-4", "LAP-3", "LAP-2", "LAP-1", "BAG-1", "HOM-1"]
    # Every word must be in the name or brand for the first tier; exclusions hold in both.
    assert skus((await listing(client, q="northwind laptop"))["items"]) == ["LAP-2", "LAP-1"]
    assert skus((await listing(client, q="laptop -gaming -budget"))["items"]) == [
        *["LAP-5", "LAP-4", "LAP-3", "LAP-1", "BAG-1", "HOM-1"]
    ]
    assert skus((await listing(client, q="lapt"))["items"])[-2:] == ["BAG-1", "HOM-1"]


@pytest.mark.parametrize("limit", [1, 2, 5])
async def test_relevance_pages_cross_from_one_tier_to_the_next(
    client: httpx.AsyncClient, limit: int
) -> None:
    whole = skus((await listing(client, q="laptop or charger", limit=100))["items"])
    assert whole[-1] == "HOM-1"  # the one match whose name holds neither word
    assert skus(await every_page(client, q="laptop or charger", limit=limit)) == whole


async def test_search_combines_with_filters_and_other_orders(client: httpx.AsyncClient) -> None:
    page = await listing(client, q="laptop", category="laptops", sort="price_asc", max_price=150000)
    assert set(skus(page["items"][:2])) == {"LAP-1", "LAP-3"}
    assert skus(page["items"])[2:] == ["LAP-4"]
    amounts = [i["price"]["amount"] for i in page["items"]]
    assert amounts == [99999, 99999, 149999]


async def test_search_results_page_by_relevance(client: httpx.AsyncClient) -> None:
    whole = (await listing(client, q="laptop or charger", limit=100))["items"]
    assert len(whole) == 9
    assert skus(await every_page(client, q="laptop or charger", limit=2)) == skus(whole)


async def test_searches_without_words(client: httpx.AsyncClient) -> None:
    nothing = await listing(client, q="zeppelin")
    assert nothing == {"items": [], "next_cursor": None}
    assert len((await listing(client, q="!!! ???", limit=100))["items"]) == len(CATALOG)
    assert len((await listing(client, q='"unbalanced', limit=100))["items"]) == 0


async def test_pages_stay_consistent_when_products_change_between_them(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    first = await listing(client, sort="price_asc", limit=5)
    last = first["items"][-1]
    assert (await client.delete(f"{PRODUCTS}/{last['id']}", headers=admin)).status_code == 204
    cheaper = item("CHEAP-1", "Sticker", 0.5, "home")
    await client.post(f"{PRODUCTS}/import", json={"products": [cheaper]}, headers=admin)
    rest = await every_page(client, sort="price_asc", limit=5, cursor=first["next_cursor"])
    seen = skus(first["items"]) + skus(rest)
    assert len(seen) == len(set(seen)) == len(CATALOG)
    assert "CHEAP-1" not in seen


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_price": 500, "max_price": 100}, "min_price"),
        ({"min_price": -1}, "min_price"),
        ({"sort": "cheapest"}, "sort"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": "WzEsMiwzXQ"}, "cursor"),
        ({"cursor": encode_cursor(["newest", "0001-01-01T00:00:00+14:00", "x"])}, "cursor"),
        ({"sort": "price_asc", "cursor": encode_cursor(["price_asc", 2**63, "x"])}, "cursor"),
        ({"sort": "title", "cursor": encode_cursor(["title", "a\x00", "x"])}, "cursor"),
        # Relevance's key is its tier and a product's place: a score (older cursors),
        # an unknown tier, a place no integer column holds, a boolean are no cursor.
        ({"q": "laptop", "cursor": encode_cursor(["relevance", -3.5, "x"])}, "cursor"),
        ({"q": "laptop", "cursor": encode_cursor(["relevance", [2, 5], "x"])}, "cursor"),
        ({"q": "laptop", "cursor": encode_cursor(["relevance", [0, 2**63], "x"])}, "cursor"),
        ({"q": "laptop", "cursor": encode_cursor(["relevance", [0, -1], "x"])}, "cursor"),
        ({"q": "laptop", "cursor": encode_cursor(["relevance", [True, 5], "x"])}, "cursor"),
        ({"q": "laptop", "cursor": encode_cursor(["relevance", [0, 5, 1], "x"])}, "cursor"),
        ({"max_price": 10**12 + 1}, "max_price"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"q": "x" * 201}, "q"),
    ],
)
async def test_bad_parameters_are_422_naming_them(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await client.get(PRODUCTS, params=params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert field in {e["field"] for e in response.json()["errors"]}


async def test_a_cursor_continues_only_its_own_order(client: httpx.AsyncClient) -> None:
    cursor = (await listing(client, sort="title", limit=2))["next_cursor"]
    response = await client.get(PRODUCTS, params={"sort": "price_asc", "cursor": cursor})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "cursor"
