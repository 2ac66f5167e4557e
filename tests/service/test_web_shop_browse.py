"""Service tests of browsing the shop: the front page, a category, search, a product.

The web app in-process in front of real auth, users, catalog, payments and orders
servers (`tests.support.shop_pages`), one set per module; each test makes its own
products (titles with a word of its own, so that searches see only them).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from tests.support.shop_pages import ShopPages, open_shop_pages
from tests.support.tokens import TokenFactory
from tests.support.web import open_storefront

pytestmark = pytest.mark.asyncio(loop_scope="module")
IMAGE = "/api/catalog/images/0b6d4c7e-1f2a-4b3c-8d9e-0123456789ab"


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shop(
    tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[ShopPages]:
    async with open_shop_pages(tmp_path_factory.mktemp("shop"), tokens) as shop:
        await shop.category("teas", "Teas & Infusions")
        yield shop


def _word() -> str:
    """A word no other product has: a test's own search term."""
    return "zq" + uuid.uuid4().hex[:8]


def _main(html: str) -> str:
    return html[html.index("<main") : html.index("</main>")]


def _titles(html: str) -> list[str]:
    return [
        unescape(t) for t in re.findall(r'class="product-title"><a href="[^"]+">([^<]+)</a>', html)
    ]


async def test_the_front_page_shows_the_categories_and_new_products(shop: ShopPages) -> None:
    newest = await shop.product(title=f"Jasmine {_word()}", category="teas")

    html = (await shop.browser().get("/")).text

    assert '<a href="/category/teas">Teas &amp; Infusions</a>' in html
    assert f'<a href="/product/{newest["id"]}">{newest["title"]}</a>' in html


async def test_the_front_page_without_the_catalog_says_so_and_keeps_the_shop(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with open_storefront(tmp_path, tokens) as down:  # catalog and orders not running
        answer = await down.browser().get("/")

    assert answer.status_code == 200
    assert "The catalogue is unavailable right now." in answer.text
    assert '<a href="/cart" class="cart-link">Cart</a>' in answer.text


async def test_a_category_lists_its_products_sorted_as_asked(shop: ShopPages) -> None:
    await shop.category("kettles", "Kettles")
    word = _word()
    for title, amount in (
        (f"Copper {word}", 4000),
        (f"Steel {word}", 2000),
        (f"Glass {word}", 3000),
    ):
        await shop.product(title=title, amount=amount, category="kettles", brand="Ferrum")
    browser = shop.browser()

    page = await browser.get("/category/kettles?sort=price_asc")

    assert page.status_code == 200
    assert "<h1>Kettles</h1>" in page.text
    assert _titles(page.text) == [f"Steel {word}", f"Glass {word}", f"Copper {word}"]
    assert '<option value="price_asc" selected>' in page.text
    by_name = await browser.get("/category/kettles?sort=title")
    assert _titles(by_name.text) == [f"Copper {word}", f"Glass {word}", f"Steel {word}"]
    nonsense = await browser.get("/category/kettles?sort=drop+table&page=-1&price=x")
    assert nonsense.status_code == 200 and len(_titles(nonsense.text)) == 3


async def test_an_unknown_category_is_the_404_page(shop: ShopPages) -> None:
    for path in ("/category/no-such-thing", "/category/%3Cscript%3E"):
        answer = await shop.browser().get(path)
        assert answer.status_code == 404, path
        assert "There is no such category" in answer.text
        assert "<script>" not in answer.text


async def test_search_pages_through_the_results_with_the_catalogs_cursor(shop: ShopPages) -> None:
    word = _word()
    for n in range(23):
        await shop.product(title=f"Mug {word} {n:02d}", amount=500 + n)
    browser = shop.browser()

    first = await browser.get("/search", params={"q": word, "sort": "price_asc"})

    assert first.status_code == 200
    assert f"<h1>Results for “{word}”</h1>" in first.text
    assert f'value="{word}"' in first.text  # the search box keeps the words
    assert len(_titles(first.text)) == 20
    next_link = re.search(r'<a href="([^"]+)" rel="next">Next page</a>', first.text)
    assert next_link is not None
    second = await browser.get(unescape(next_link.group(1)))
    assert _titles(second.text) == [f"Mug {word} {n:02d}" for n in range(20, 23)]
    assert 'rel="next"' not in second.text and ">First page</a>" in second.text


async def test_a_search_that_finds_nothing_says_so(shop: ShopPages) -> None:
    answer = await shop.browser().get("/search", params={"q": _word()})
    assert answer.status_code == 200
    assert "No products match" in answer.text


async def test_a_broken_link_to_a_page_of_results_is_a_page_that_says_so(shop: ShopPages) -> None:
    answer = await shop.browser().get("/search", params={"q": "tea", "after": "not-a-cursor"})

    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("text/html")
    assert "That link to a page of results no longer works." in answer.text


async def test_facets_show_with_their_counts(shop: ShopPages) -> None:
    word = _word()
    await shop.product(title=f"Pot {word}", brand="Northwind", amount=1500)
    await shop.product(title=f"Pan {word}", brand="Kestrel", amount=7000, stock=0)
    page = await shop.browser().get("/search", params={"q": word})

    html = _main(page.text)
    assert 'Northwind <span class="count">(1)</span>' in html
    assert 'Under $25.00 <span class="count">(1)</span>' in html
    assert 'In stock only <span class="count">(1)</span>' in html
    assert "2 products" in html
    chosen = await shop.browser().get("/search", params={"q": word, "brand": "Kestrel"})
    assert _titles(chosen.text) == [f"Pan {word}"]
    assert "Brand: Kestrel" in chosen.text


async def test_the_search_box_suggests_products_as_you_type(shop: ShopPages) -> None:
    word = _word()
    tea = await shop.product(title=f"Sencha {word}")
    browser = shop.browser()

    answer = await browser.get("/suggest", params={"q": word})

    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    assert answer.json() == {
        "q": word,
        "items": [{"title": tea["title"], "url": f"/product/{tea['id']}"}],
        "search": f"/search?q={word}",
    }
    short = await browser.get("/suggest", params={"q": "a"})
    assert short.json()["items"] == []


async def test_a_product_page_shows_what_a_shopper_needs(shop: ShopPages) -> None:
    tea = await shop.product(
        title="Oolong <b>tea</b>",
        stock=3,
        category="teas",
        description="Rolled leaves.",
        attributes={"weight_g": 100, "organic": True, "origin": "Taiwan"},
        images=["https://img.example.com/o.jpg"],
        thumbnail="https://img.example.com/o-thumb.jpg",
    )

    answer = await shop.browser().get(f"/product/{tea['id']}")

    assert answer.status_code == 200
    html = _main(answer.text)
    assert '<h1 id="product-title">Oolong &lt;b&gt;tea&lt;/b&gt;</h1>' in html
    assert '<p class="price product-price">$12.50</p>' in html
    assert ">Only 3 left</p>" in html
    assert "<dt>Weight (g)</dt><dd>100</dd>" in html and "<dt>Organic</dt><dd>Yes</dd>" in html
    assert '<a href="/category/teas">Teas &amp; Infusions</a>' in html
    assert "img.example.com" not in answer.text  # nothing from another origin: the placeholder
    assert 'class="picture placeholder"' in html
    assert '<button type="submit">Add to cart</button>' in html
    assert "csrf_token" not in html  # a visitor's first add starts their session
    assert "set-cookie" not in answer.headers  # browsing starts no session


async def test_the_catalogs_own_pictures_are_shown_with_their_sizes(shop: ShopPages) -> None:
    body = {
        "sku": f"SKU-{uuid.uuid4().hex[:12]}",
        "title": "Pictured tea",
        "price": {"amount": 100, "currency": "USD"},
        "images": [f"{IMAGE}/medium.webp"],
    }
    async with httpx.AsyncClient(base_url=shop.catalog.url if shop.catalog else "") as client:
        made = await client.post("/api/catalog/products", json=body, headers=shop.admin)
    assert made.status_code == 201, made.text

    html = _main((await shop.browser().get(f"/product/{made.json()['id']}")).text)

    assert f'src="{IMAGE}/medium.webp"' in html and f"{IMAGE}/large.webp 1200w" in html
    assert 'alt="Pictured tea" width="600" height="600"' in html
    listed = (await shop.browser().get("/search", params={"q": "pictured"})).text
    assert f'src="{IMAGE}/thumb.webp"' in listed and 'loading="lazy"' in listed


async def test_a_product_without_pictures_or_stock(shop: ShopPages) -> None:
    gone = await shop.product(title=f"Rare {_word()}", stock=0)

    html = _main((await shop.browser().get(f"/product/{gone['id']}")).text)

    assert re.search(
        r'<img class="picture placeholder" src="/static/placeholder\.[0-9a-f]{12}\.svg"', html
    )
    assert "This product is out of stock at the moment." in html
    assert "Add to cart" not in html


async def test_an_unknown_product_is_the_404_page(shop: ShopPages) -> None:
    for path in ("/product/no-such-product", "/product/..%2F..%2Fapi%2Fusers%2Fme"):
        answer = await shop.browser().get(path)
        assert answer.status_code == 404, path
        assert '<h1 id="error-heading">Page not found</h1>' in answer.text


async def test_the_catalog_down_is_the_page_that_names_it(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with open_storefront(tmp_path, tokens) as down:
        browser = down.browser()
        for path in ("/product/x", "/search?q=tea", "/category/teas"):
            answer = await browser.get(path)
            assert answer.status_code == 503, path
            assert "The catalogue is unavailable" in answer.text, path
            assert answer.headers["retry-after"] == "5"
        suggested = await browser.get("/suggest?q=tea")
        assert suggested.status_code == 503 and suggested.json()["items"] == []
