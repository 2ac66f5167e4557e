"""A customer's account in a real browser: create it, log in and out, name and addresses.

Through the gateway of the whole system, as a person does it: by label and button
name, with the keyboard alone, and with JavaScript off; each page audited by axe-core.
"""

from __future__ import annotations

import re

from playwright.sync_api import BrowserContext, Page, expect

from tests.e2e.client import System
from tests.support.browser import (
    ON_NATS,
    Screenshots,
    audit,
    log_in,
    log_out,
    new_customer,
    register,
)

pytestmark = ON_NATS


def _session_cookie(context: BrowserContext) -> dict[str, object]:
    (cookie,) = [c for c in context.cookies() if "mercato_session" in c["name"]]
    return dict(cookie)


def test_register_log_out_and_log_in_again(page: Page, screenshots: Screenshots) -> None:
    customer = new_customer("Ada Lovelace")
    page.goto("/register")
    audit(page)
    screenshots.take(page, "register")

    register(page, customer)

    expect(page.get_by_role("status")).to_have_text(re.compile("Welcome, Ada Lovelace!"))
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()
    audit(page)
    log_out(page)
    expect(page.get_by_role("status")).to_have_text("You have logged out.")
    log_in(page, customer)
    expect(page.get_by_role("link", name="Ada Lovelace")).to_be_visible()


def test_the_session_cookie_is_out_of_the_pages_reach(page: Page) -> None:
    register(page, new_customer())

    cookie = _session_cookie(page.context)

    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax"
    assert cookie["path"] == "/"
    assert page.evaluate("document.cookie") == ""  # no script can read it


def test_a_wrong_password_shows_the_form_again_with_the_email_kept(
    page: Page, system: System
) -> None:
    customer = new_customer()
    register(page, customer)
    log_out(page)
    page.goto("/login")
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill("Not-the-password-1")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page.get_by_label("Email")).to_have_value(customer.email)
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_role("alert")).to_be_focused()  # the script takes the reader there
    audit(page)


def test_registering_with_a_short_password_and_a_taken_email(
    page: Page, screenshots: Screenshots
) -> None:
    taken = new_customer()
    register(page, taken)
    log_out(page)
    page.goto("/register")
    page.get_by_label("Name").fill("Second Ada")
    page.get_by_label("Email").fill(taken.email)
    page.get_by_label("Password").fill("short")
    page.get_by_role("button", name="Create account").click()

    password = page.get_by_label("Password")
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description(
        re.compile("Password must be at least 10 characters long")
    )
    expect(password).to_be_focused()
    expect(page.get_by_label("Email")).to_have_value(taken.email)
    audit(page)
    screenshots.take(page, "register-errors")

    password.fill(taken.password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_label("Email")).to_have_accessible_description(
        re.compile("An account with this email already exists")
    )


def test_javascript_off_register_log_out_and_log_in(page_nojs: Page) -> None:
    page = page_nojs
    customer = new_customer("No Script")

    register(page, customer)
    log_out(page)
    log_in(page, customer)

    expect(page.get_by_role("link", name="No Script")).to_be_visible()


def test_logging_in_with_the_keyboard_alone(page: Page) -> None:
    customer = new_customer("Kay Board")
    register(page, customer)
    log_out(page)
    page.goto("/login")

    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(customer.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Password")).to_be_focused()
    page.keyboard.type(customer.password)
    page.keyboard.press("Enter")

    expect(page.get_by_role("link", name="Kay Board")).to_be_visible()


def test_a_login_link_elsewhere_leads_back_here_but_never_off_site(
    page: Page, system: System
) -> None:
    customer = new_customer()
    register(page, customer)
    log_out(page)

    page.goto("/account")  # a page for customers: to the login page and back
    expect(page).to_have_url(re.compile(r"/login\?next=%2Faccount$"))
    page.get_by_label("Email").fill(customer.email)
    page.get_by_label("Password").fill(customer.password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()

    log_out(page)
    log_in(page, customer, next_path="https://evil.example/")
    expect(page).to_have_url(f"{system.base_url}/")


def test_the_account_page_adds_and_removes_addresses(page: Page, screenshots: Screenshots) -> None:
    register(page, new_customer("Ada Address"))
    page.get_by_role("link", name="Ada Address").click()
    expect(page.get_by_role("heading", name="Your account")).to_be_visible()
    audit(page)

    form = page.locator("#address")
    form.get_by_label("Address").fill("12 St James's Square")
    form.get_by_label("City").fill("London")
    form.get_by_label("Postal code").fill("SW1Y 4JH")
    form.get_by_label("Country").fill("XX")
    form.get_by_role("button", name="Add address").click()
    country = page.locator("#address").get_by_label("Country")
    expect(country).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#address").get_by_label("City")).to_have_value("London")
    audit(page)

    country.fill("GB")
    page.locator("#address").get_by_role("button", name="Add address").click()
    expect(page.get_by_role("status")).to_have_text("The address is added.")
    expect(page.locator("address")).to_contain_text("12 St James's Square")
    screenshots.take(page, "account")
    audit(page)

    page.get_by_role("button", name=re.compile(r"^Remove .*12 St James's Square")).click()
    expect(page.get_by_role("status")).to_have_text("The address is removed.")
    expect(page.get_by_text("You have no saved addresses yet.")).to_be_visible()


def test_two_customers_each_see_only_their_own_account(page: Page, system: System) -> None:
    register(page, new_customer("First Person"))
    page.goto("/account")
    form = page.locator("#address")
    form.get_by_label("Address").fill("1 First Street")
    form.get_by_label("City").fill("Leeds")
    form.get_by_label("Country").fill("GB")
    form.get_by_role("button", name="Add address").click()
    expect(page.locator("address")).to_contain_text("1 First Street")

    other_context = page.context.browser.new_context(base_url=system.base_url)  # type: ignore[union-attr]
    try:
        other = other_context.new_page()
        register(other, new_customer("Second Person"))
        other.goto("/account")
        expect(other.get_by_text("You have no saved addresses yet.")).to_be_visible()
        expect(other.get_by_text("First Person")).to_have_count(0)
        expect(other.get_by_text("1 First Street")).to_have_count(0)
    finally:
        other_context.close()


def test_the_logout_page_and_its_button(page: Page) -> None:
    register(page, new_customer())
    page.goto("/logout")
    audit(page)

    page.get_by_role("main").get_by_role("button", name="Log out").click()

    expect(page.get_by_role("link", name=re.compile(r"^Log in$"))).to_be_visible()
