"""The operations console in a real browser: the administrator's journey, and its refusals.

Against the whole system from `mercato up` (embedded NATS): the administrator watches
the system (the figures refresh by themselves), restocks a product, uploads a
picture, replays a real dead letter
and reads the result, finds an order and its saga, and filters the audit log; every
console page passes an axe-core audit. A customer gets 403, a visitor the login page;
without JavaScript the pages and forms still work.
"""

from __future__ import annotations

import json
import re
import uuid

from playwright.sync_api import FilePayload, Page, expect

from tests.e2e.client import Account, Shop, System, confirmed_checkout, eventually
from tests.support.browser import ON_NATS, Screenshots, audit, new_customer, register
from tests.support.ops_browser import (
    dead_letters_of,
    log_in_as_admin,
    png,
    poison_dead_letter,
    wait_dead_lettered,
)

pytestmark = ON_NATS


def first_stocked_product(page: Page) -> str:
    """Open the first product of the console's catalog; its title."""
    page.goto("/ops/catalog")
    link = page.get_by_role("table").get_by_role("link").first
    title = link.inner_text()
    link.click()
    expect(page.get_by_role("heading", level=1, name=title)).to_be_visible()
    return title


def test_a_visitor_is_sent_to_log_in_and_a_customer_is_refused(page: Page) -> None:
    page.goto("/ops/dead-letters")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fops%2Fdead-letters$"))

    register(page, new_customer("Cora Customer"))
    expect(page.get_by_role("link", name="Operations")).to_have_count(0)
    answer = page.goto("/ops")

    assert answer is not None and answer.status == 403
    expect(page.get_by_text("The operations console is for administrators only.")).to_be_visible()
    audit(page)


def test_the_system_page_shows_every_service_and_refreshes_itself(
    page: Page, screenshots: Screenshots
) -> None:
    log_in_as_admin(page)
    page.get_by_role("link", name="Operations").click()

    expect(page.get_by_role("heading", name="System")).to_be_visible()
    table = page.get_by_role("table", name="Services and their instances")
    for name in ("gateway-1", "auth-1", "catalog-1", "catalog-2", "orders-1", "logs-1", "web-1"):
        row = table.get_by_role("row", name=re.compile(rf"^{name} "))
        expect(row.get_by_role("cell").first).to_have_text("ready")
    updated = page.locator("#system-updated")
    before = updated.inner_text()
    # The script fetches the figures again within 5 s; rates come with the second sample.
    expect(updated).not_to_have_text(before, timeout=15_000)
    expect(updated).to_contain_text("Rates over the last")
    audit(page)
    screenshots.take(page, "ops-system")


def test_the_admin_restocks_a_product(page: Page) -> None:
    log_in_as_admin(page)
    title = first_stocked_product(page)
    on_hand = int(page.locator("dt:text('On hand') + dd").inner_text())

    page.get_by_label("Units to add").fill("5")
    page.get_by_role("button", name="Restock").click()

    expect(page.get_by_role("status")).to_contain_text(f"Added 5 units to {title}")
    expect(page.locator("dt:text('On hand') + dd")).to_have_text(str(on_hand + 5))
    page.get_by_label("Units to add").fill("0")
    page.get_by_role("button", name="Restock").click()
    expect(page.get_by_label("Units to add")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Units to add must be a whole number")).to_be_visible()
    audit(page)


def test_the_admin_creates_and_edits_a_product(page: Page) -> None:
    sku = f"BRW-NEW-{uuid.uuid4().hex[:6]}"
    log_in_as_admin(page)
    page.goto("/ops/catalog")
    audit(page)
    page.get_by_role("link", name="New product").click()
    audit(page)
    page.get_by_label("Title").fill("Browser tea")
    page.get_by_label("SKU").fill(sku)
    page.get_by_label("Price").fill("3.20")
    page.get_by_label("Units on hand").fill("4")
    page.get_by_role("button", name="Create product").click()

    expect(page.get_by_role("status")).to_have_text("The product Browser tea was created.")
    expect(page.locator("dt:text('Price') + dd")).to_have_text("$3.20")
    page.get_by_role("link", name="Edit the product").click()
    audit(page)
    page.get_by_label("Price").fill("free")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_label("Price")).to_have_attribute("aria-invalid", "true")
    audit(page)
    page.get_by_label("Price").fill("3.60")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_have_text("The product Browser tea was saved.")
    expect(page.locator("dt:text('Price') + dd")).to_have_text("$3.60")


def test_the_admin_uploads_a_picture(page: Page) -> None:
    log_in_as_admin(page)
    title = first_stocked_product(page)

    picture = FilePayload(name="card.png", mimeType="image/png", buffer=png())
    page.get_by_label("Picture", exact=True).set_input_files(files=[picture])
    page.get_by_role("button", name="Upload picture").click()

    expect(page.get_by_role("status")).to_contain_text("The picture card.png was added")
    expect(
        page.get_by_role("img", name=re.compile(rf"of {re.escape(title)}$")).last
    ).to_be_visible()
    audit(page)


def test_the_admin_replays_a_real_dead_letter_and_sees_the_result(
    page: Page, system: System, shop: Shop, admin: Account, screenshots: Screenshots
) -> None:
    event = poison_dead_letter(system)
    letter = wait_dead_lettered(shop, admin.headers, event.id)
    log_in_as_admin(page)

    page.goto("/ops")
    page.get_by_role("navigation", name="Operations").get_by_role(
        "link", name="Dead letters"
    ).click()
    expect(page.get_by_role("heading", name="Dead letters")).to_be_visible()
    audit(page)
    page.get_by_role("link", name=f"Dead letter {letter['id']}", exact=True).click()
    expect(page.get_by_role("heading", name=f"Dead letter {letter['id']}")).to_be_visible()
    expect(page.locator("dt:text('Consumer') + dd")).to_have_text("users")
    expect(page.locator("dt:text('Event id') + dd")).to_have_text(event.id)
    audit(page)
    screenshots.take(page, "ops-dead-letter")
    page.get_by_role("button", name="Replay").click()

    expect(page.get_by_role("status")).to_contain_text(
        f"Replayed dead letter {letter['id']}: user.registered (event {event.id}) was published "
        "again for users."
    )
    expect(page.get_by_role("link", name=f"Dead letter {letter['id']}", exact=True)).to_have_count(
        0
    )
    # The replay reached the consumer: it refuses the event again, a new dead letter.
    again = eventually(
        lambda: (
            [d for d in dead_letters_of(shop, admin.headers, event.id) if d["id"] != letter["id"]]
            or None
        ),
        timeout=20,
    )
    assert again[0]["consumer"] == "users"


def test_the_admin_finds_an_order_and_its_saga(page: Page, shop: Shop) -> None:
    customer = shop.new_customer()
    order = confirmed_checkout(shop, customer)
    log_in_as_admin(page)

    page.goto("/ops/orders")
    audit(page)
    page.get_by_label("Order id").fill(order["id"])
    page.get_by_role("button", name="Find").click()

    expect(page.get_by_role("heading", name=f"Order {order['id']}")).to_be_visible()
    expect(page.locator("dt:text('Status') + dd").first).to_have_text("confirmed")
    timeline = page.locator("ol.timeline")
    for step in ("order.placed", "payment.succeeded", "order.confirmed"):
        expect(timeline.get_by_text(step, exact=True)).to_be_visible(timeout=15_000)
    audit(page)


def test_the_admin_imports_a_file_and_watches_the_progress_bar(page: Page) -> None:
    items = [
        {"sku": f"BRW-{uuid.uuid4().hex[:8]}", "title": f"Browser import {i}", "price": 1.25}
        for i in range(150)
    ]
    log_in_as_admin(page)
    page.goto("/ops/catalog")
    page.get_by_role("link", name="Import products from a file").click()
    audit(page)
    document = FilePayload(
        name="browser.json", mimeType="application/json", buffer=json.dumps(items).encode()
    )
    page.get_by_label("Products file").set_input_files(files=[document])
    page.get_by_role("button", name="Import").click()

    expect(page.get_by_role("heading", name="Import of browser.json")).to_be_visible()
    bar = page.get_by_role("progressbar", name="Products sent to the catalog")
    expect(bar).to_have_attribute("max", "150")
    expect(page.get_by_role("status")).to_have_text(
        "Imported all 150 products: 150 created, 0 updated, 0 unchanged.", timeout=20_000
    )
    expect(bar).to_have_attribute("value", "150")
    audit(page)


def test_the_admin_filters_the_audit_log(page: Page) -> None:
    log_in_as_admin(page)
    page.goto("/ops/audit")

    page.get_by_label("Event type").fill("user.*")
    page.get_by_role("button", name="Filter").click()

    expect(page).to_have_url(re.compile(r"type=user\.\*"))
    types = page.get_by_role("table").locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert types and all(t.startswith("user.") for t in types), types
    audit(page)
    page.get_by_label("From (UTC)").fill("2020-01-01T00:00")
    page.get_by_label("Until (UTC)").fill("2019-01-01T00:00")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_label("Until (UTC)")).to_have_attribute("aria-invalid", "true")
    audit(page)


def test_without_javascript_the_console_still_works(page_nojs: Page) -> None:
    log_in_as_admin(page_nojs)
    page_nojs.goto("/ops")
    expect(page_nojs.get_by_role("link", name="Refresh")).to_be_visible()
    page_nojs.get_by_role("link", name="Refresh").click()
    expect(page_nojs.locator("#system-updated")).to_contain_text("Rates over the last")

    title = first_stocked_product(page_nojs)
    page_nojs.get_by_label("Units to add").fill("1")
    page_nojs.get_by_role("button", name="Restock").click()
    expect(page_nojs.get_by_role("status")).to_contain_text(f"Added 1 unit to {title}")


def test_every_console_page_of_a_customer_logged_in_first_is_refused(page: Page) -> None:
    customer = new_customer("Carl Customer")
    register(page, customer)
    for path in ("/ops/catalog", "/ops/orders", "/ops/audit", "/ops/dead-letters"):
        answer = page.goto(path)
        assert answer is not None and answer.status == 403, path
    page.goto("/login?next=/ops")  # already signed in: the login page goes straight on
    expect(page).to_have_url(re.compile(r"/ops$"))
    expect(page.get_by_text("The operations console is for administrators only.")).to_be_visible()
