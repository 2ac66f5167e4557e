"""Service tests of the console's product forms: a product created, then changed.

The catalog runs for real; what the forms did is read back from its API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from mercato.web.ops.access import ADMINS_ONLY
from mercato.web.ops.products import SKU_TAKEN
from tests.support.console import Console, open_console
from tests.support.tokens import TokenFactory
from tests.support.web import SHOP, csrf_token, submit

NEW = {
    "title": "Jasmine tea, 100 g",
    "sku": "TEA-JAS-100",
    "price": "6.90",
    "currency": "usd",
    "brand": "Leaf & Co",
    "category": "",
    "tags": "tea, green , jasmine",
    "description": "Green tea scented with jasmine.",
    "stock": "12",
}


@pytest.fixture
async def console(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Console]:
    async with open_console(tmp_path, tokens) as console:
        yield console


async def product_at_catalog(console: Console, product_id: str) -> dict[str, Any]:
    answer = await console.http("catalog").get(
        f"/api/catalog/products/{product_id}", headers=await console.admin_api()
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_an_admin_creates_a_product_through_the_form(console: Console) -> None:
    admin = await console.admin()

    answer = await submit(admin, "/ops/catalog/new", NEW)

    assert answer.status_code == 303, answer.text
    product_id = answer.headers["location"].rsplit("/", 1)[1]
    made = await product_at_catalog(console, product_id)
    assert made["title"] == "Jasmine tea, 100 g" and made["sku"] == "TEA-JAS-100"
    assert made["price"] == {"amount": 690, "currency": "USD"}
    assert made["tags"] == ["tea", "green", "jasmine"] and made["on_hand"] == 12
    assert made["brand"] == "Leaf & Co" and made["category"] is None
    page = await admin.get(answer.headers["location"])
    assert "The product Jasmine tea, 100 g was created." in unescape(page.text)


async def test_mistakes_come_back_beside_their_fields_with_what_was_typed(
    console: Console,
) -> None:
    admin = await console.admin()
    bad = {**NEW, "title": "", "price": "six", "currency": "dollars", "stock": "-1"}

    answer = await submit(admin, "/ops/catalog/new", bad)

    assert answer.status_code == 422
    for name in ("title", "price", "currency", "stock"):
        assert f'id="product-{name}-error"' in answer.text, name
    assert 'value="six"' in answer.text and 'value="TEA-JAS-100"' in answer.text
    listed = await console.http("catalog").get("/api/catalog/products", params={"q": "Jasmine"})
    assert listed.json()["items"] == []


async def test_the_catalogs_refusals_are_shown_beside_the_field(console: Console) -> None:
    admin = await console.admin()
    assert (await submit(admin, "/ops/catalog/new", NEW)).status_code == 303

    taken = await submit(admin, "/ops/catalog/new", {**NEW, "title": "Another"})
    bad_sku = await submit(admin, "/ops/catalog/new", {**NEW, "sku": "no spaces allowed"})
    no_category = await submit(admin, "/ops/catalog/new", {**NEW, "sku": "X-1", "category": "nope"})

    assert taken.status_code == 409 and SKU_TAKEN in taken.text
    assert 'id="product-sku-error"' in taken.text
    assert bad_sku.status_code == 422 and 'id="product-sku-error"' in bad_sku.text
    assert no_category.status_code == 422
    assert 'id="product-category-error"' in no_category.text


async def test_an_admin_changes_a_product_and_only_what_changed_is_sent(console: Console) -> None:
    product = await console.product(stock=4, title="Black tea", amount=300)
    admin = await console.admin()
    edit = f"/ops/catalog/products/{product}/edit"
    form = await admin.get(edit)
    assert form.status_code == 200
    assert 'value="Black tea"' in form.text and 'value="3.00"' in form.text
    assert 'name="stock"' not in form.text  # stock moves by restocks only
    await submit(admin, f"/ops/catalog/products/{product}/stock", {"delta": "6"}, page="/ops")

    answer = await submit(
        admin,
        edit,
        {
            "title": "Black tea, strong",
            "sku": (await product_at_catalog(console, product))["sku"],
            "price": "3.50",
            "currency": "USD",
            "tags": "tea",
        },
    )

    assert answer.status_code == 303
    changed = await product_at_catalog(console, product)
    assert changed["title"] == "Black tea, strong"
    assert changed["price"]["amount"] == 350 and changed["tags"] == ["tea"]
    assert changed["on_hand"] == 10  # the restock in between is kept
    page = await admin.get(answer.headers["location"])
    assert "The product Black tea, strong was saved." in page.text


async def test_a_customer_cannot_create_or_change_a_product(console: Console) -> None:
    product = await console.product(title="Mint tea")
    customer, _ = await console.customer()
    token = await csrf_token(customer, "/")
    headers = {"Origin": SHOP, "Sec-Fetch-Site": "same-origin"}

    created = await customer.post(
        "/ops/catalog/new", data={"csrf_token": token, **NEW}, headers=headers
    )
    changed = await customer.post(
        f"/ops/catalog/products/{product}/edit",
        data={"csrf_token": token, **NEW},
        headers=headers,
    )

    assert created.status_code == 403 and changed.status_code == 403
    assert ADMINS_ONLY in created.text
    assert (await product_at_catalog(console, product))["title"] == "Mint tea"
    listed = await console.http("catalog").get("/api/catalog/products", params={"q": "Jasmine"})
    assert listed.json()["items"] == []
