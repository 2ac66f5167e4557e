"""Service tests of the storefront's frame: the layout, headers, static files, error pages.

The web app runs in-process with real auth and users servers behind it
(`tests.support.web`); orders is not running, so the cart badge is hidden.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from mercato.web.assets import IMMUTABLE, static_assets
from mercato.web.edge import CONTENT_SECURITY_POLICY
from tests.support.tokens import TokenFactory
from tests.support.web import Storefront, open_storefront


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Storefront]:
    async with open_storefront(tmp_path, tokens) as shop:
        yield shop


@pytest.fixture
def browser(shop: Storefront) -> httpx.AsyncClient:
    return shop.browser()


async def test_the_home_page_has_the_layout_every_page_shares(browser: httpx.AsyncClient) -> None:
    answer = await browser.get("/")

    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    html = answer.text
    assert '<a class="brand" href="/">Mercato</a>' in html
    assert '<form role="search" action="/search" method="get"' in html
    assert '<label for="site-search" class="visually-hidden">Search</label>' in html
    assert '<a href="/cart" class="cart-link">Cart</a>' in html  # no badge: orders is down
    assert (
        '<a href="/login">Log in</a>' in html and '<a href="/register">Create account</a>' in html
    )
    assert "<main" in html and "<footer" in html
    assert "Log out" not in html
    assert "set-cookie" not in answer.headers  # a visitor browsing gets no session


async def test_every_page_carries_the_security_headers(browser: httpx.AsyncClient) -> None:
    for path in ("/", "/login", "/nowhere"):
        answer = await browser.get(path)
        headers = answer.headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["referrer-policy"] == "same-origin"
        assert "camera=()" in headers["permissions-policy"]
        assert headers["cache-control"] == "no-store", path


async def test_pages_hold_no_inline_script_or_style(browser: httpx.AsyncClient) -> None:
    for path in ("/", "/login", "/register", "/nowhere"):
        html = (await browser.get(path)).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path  # no event handler attributes
        assert "http://" not in html.replace("http://www.w3.org", ""), path  # no other origin


async def test_static_files_are_versioned_and_cached_for_a_year(
    browser: httpx.AsyncClient,
) -> None:
    html = (await browser.get("/")).text
    css = re.search(r'href="(/static/shop\.[0-9a-f]{12}\.css)"', html)
    js = re.search(r'src="(/static/shop\.[0-9a-f]{12}\.js)"', html)
    assert css is not None and js is not None

    answer = await browser.get(css.group(1))
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/css")
    assert answer.headers["cache-control"] == IMMUTABLE
    assert answer.content == static_assets().by_name["shop.css"].body
    script = await browser.get(js.group(1))
    assert script.headers["content-type"].startswith("text/javascript")
    for stale in ("/static/shop.css", "/static/shop.000000000000.css", "/static/../app.py"):
        refused = await browser.get(stale)
        assert refused.status_code == 404, stale
        assert refused.headers["content-type"].startswith("text/html")


async def test_an_unknown_path_is_the_404_page(browser: httpx.AsyncClient) -> None:
    for path in ("/no/such/page", "/login/", "/api/users/me"):
        answer = await browser.get(path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "text/html; charset=utf-8"
        assert '<h1 id="error-heading">Page not found</h1>' in answer.text
        assert "problem" not in answer.text


async def test_a_wrong_method_is_a_page_with_allow(browser: httpx.AsyncClient) -> None:
    answer = await browser.delete("/login")

    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, HEAD, POST"
    assert answer.headers["content-type"].startswith("text/html")


async def test_a_body_too_large_is_a_page_not_a_problem_document(
    browser: httpx.AsyncClient,
) -> None:
    answer = await browser.post(
        "/login", content=b"x" * 1_100_000, headers={"Content-Type": "text/plain"}
    )

    assert answer.status_code == 413
    assert answer.headers["content-type"].startswith("text/html")
    assert "That was too large" in answer.text
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY


async def test_health_and_metrics_are_served_as_by_every_service(
    browser: httpx.AsyncClient,
) -> None:
    assert (await browser.get("/health/live")).status_code == 200
    ready = await browser.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["database"] == "ok"
    assert "web-sessions" in ready.json()["tasks"]
    metrics = await browser.get("/metrics")
    assert metrics.status_code == 200 and "http_requests_total" in metrics.text
