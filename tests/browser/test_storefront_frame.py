"""The storefront's frame in a real browser: the layout, its landmarks, the 404 page."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.support.browser import ON_NATS, Screenshots, audit

pytestmark = ON_NATS


def test_the_home_page_has_the_shops_header_main_and_footer(
    page: Page, screenshots: Screenshots
) -> None:
    page.goto("/")

    expect(page).to_have_title(re.compile(r"Mercato"))
    header = page.get_by_role("banner")
    expect(header.get_by_role("link", name="Mercato")).to_have_attribute("href", "/")
    expect(page.get_by_role("search").get_by_label("Search")).to_be_visible()
    expect(page.get_by_role("link", name="Cart")).to_be_visible()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    expect(page.get_by_role("link", name="Create account")).to_be_visible()
    expect(page.get_by_role("main")).to_be_visible()
    expect(page.get_by_role("contentinfo")).to_be_visible()
    audit(page)
    screenshots.take(page, "home")


def test_the_page_runs_under_its_content_security_policy_without_a_violation(
    page: Page,
) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    answer = page.goto("/login")

    assert answer is not None
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert problems == []  # no refused script or style, no failed asset


def test_an_unknown_address_is_the_shops_404_page(page: Page) -> None:
    answer = page.goto("/no/such/page")

    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("link", name="Go to the home page")).to_be_visible()
    audit(page)
