"""Service tests of the console's discounts page: codes created, listed with uses, deactivated.

The orders service runs for real; what the form did is read back from its admin API,
and a code's uses come from a real checkout with it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mercato.web.ops.access import ADMINS_ONLY
from mercato.web.ops.discounts import CODE_TAKEN
from tests.support.console import CARD_OK, Console, open_console
from tests.support.orders import ADDRESS
from tests.support.tokens import TokenFactory
from tests.support.web import SHOP, csrf_token, submit

PAGE = "/ops/discounts"
NEW = {
    "code": "spring10",
    "kind": "percent",
    "value": "10",
    "currency": "usd",
    "min_order": "20.00",
    "starts_at": "2026-03-01T00:00",
    "ends_at": "2099-04-01T00:00",
    "max_uses": "500",
    "max_uses_per_customer": "1",
    "categories": "tea, cups",
}


@pytest.fixture
async def console(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Console]:
    async with open_console(tmp_path, tokens) as console:
        yield console


async def codes(console: Console) -> list[dict[str, Any]]:
    answer = await console.http("orders").get(
        "/api/orders/discounts", headers=await console.admin_api()
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_an_admin_creates_a_code_through_the_form(console: Console) -> None:
    admin = await console.admin()

    answer = await submit(admin, PAGE, NEW)

    assert answer.status_code == 303, answer.text
    [made] = await codes(console)
    assert made["code"] == "SPRING10" and made["kind"] == "percent" and made["value"] == 10
    assert made["currency"] == "USD" and made["min_order"] == 2000
    assert made["starts_at"].startswith("2026-03-01T00:00:00")
    assert made["ends_at"].startswith("2099-04-01T00:00:00")
    assert made["max_uses"] == 500 and made["max_uses_per_customer"] == 1
    assert made["categories"] == ["tea", "cups"] and made["active"] is True
    page = await admin.get(answer.headers["location"])
    assert "The code SPRING10 was created." in page.text
    assert "10 %" in page.text and "0 of 500" in page.text


async def test_a_fixed_code_is_in_minor_units(console: Console) -> None:
    admin = await console.admin()
    fixed = {"code": "FIVE-OFF", "kind": "fixed", "value": "5.00", "currency": "USD"}

    assert (await submit(admin, PAGE, fixed)).status_code == 303

    [made] = await codes(console)
    assert made["value"] == 500 and made["min_order"] == 0 and made["categories"] == []


async def test_the_list_shows_a_codes_uses(console: Console) -> None:
    admin = await console.admin()
    assert (
        await submit(admin, PAGE, {"code": "TEN", "kind": "percent", "value": "10"})
    ).status_code == 303
    product = await console.product(amount=1000)
    _, email = await console.customer()
    headers = await console.api(email)
    card = {
        "card_number": CARD_OK,
        "exp_month": 12,
        "exp_year": datetime.now(UTC).year + 2,
        "cvc": "123",
    }
    method = await console.http("payments").post(
        "/api/payments/methods", json=card, headers=headers
    )
    await console.http("orders").put(
        f"/api/orders/cart/items/{product}", json={"quantity": 1}, headers=headers
    )
    body = {
        "payment_method_id": method.json()["id"],
        "shipping_address": ADDRESS,
        "discount_code": "ten",
    }
    placed = await console.http("orders").post(
        "/api/orders", json=body, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
    )
    assert placed.status_code == 201, placed.text

    page = await admin.get(PAGE)

    [made] = await codes(console)
    assert made["uses"] == 1
    row = page.text.split(f'id="discount-{made["id"]}"')[1].split("</tr>")[0]
    assert '<td class="uses">1</td>' in row


async def test_mistakes_come_back_beside_their_fields(console: Console) -> None:
    admin = await console.admin()

    ours = await submit(
        admin, PAGE, {**NEW, "code": "", "value": "ten", "starts_at": "soon", "max_uses": "-3"}
    )
    too_much = await submit(admin, PAGE, {**NEW, "value": "150"})
    no_currency = await submit(admin, PAGE, {"code": "FIX", "kind": "fixed", "value": "5.00"})
    backwards = await submit(admin, PAGE, {**NEW, "ends_at": "2026-02-01T00:00"})
    bad_code = await submit(admin, PAGE, {**NEW, "code": "no spaces"})
    bad_slug = await submit(admin, PAGE, {**NEW, "categories": "Not A Slug"})

    assert ours.status_code == 422
    for name in ("code", "value", "starts_at", "max_uses"):
        assert f'id="discount-{name}-error"' in ours.text, name
    assert 'value="ten"' in ours.text and 'value="tea, cups"' in ours.text
    for answer, name in (
        (too_much, "value"),
        (no_currency, "currency"),
        (backwards, "ends_at"),
        (bad_code, "code"),
        (bad_slug, "categories"),
    ):
        assert answer.status_code == 422, (name, answer.text[-400:])
        assert f'id="discount-{name}-error"' in answer.text, name
    assert await codes(console) == []


async def test_a_taken_code_is_said_beside_the_code(console: Console) -> None:
    admin = await console.admin()
    assert (await submit(admin, PAGE, NEW)).status_code == 303

    again = await submit(admin, PAGE, {**NEW, "code": "Spring10"})

    assert again.status_code == 409
    assert 'id="discount-code-error"' in again.text and CODE_TAKEN in again.text
    assert len(await codes(console)) == 1


async def test_an_admin_deactivates_a_code(console: Console) -> None:
    admin = await console.admin()
    assert (await submit(admin, PAGE, NEW)).status_code == 303
    [made] = await codes(console)

    answer = await submit(admin, f"{PAGE}/{made['id']}/deactivate", {}, page=PAGE)

    assert answer.status_code == 303
    [after] = await codes(console)
    assert after["active"] is False
    page = await admin.get(PAGE)
    assert "The code SPRING10 was deactivated." in page.text
    assert f'action="{PAGE}/{made["id"]}/deactivate"' not in page.text
    unknown = await submit(admin, f"{PAGE}/{uuid.uuid4()}/deactivate", {}, page=PAGE)
    assert unknown.status_code == 404 and "could not be deactivated" in unknown.text


async def test_customers_and_posts_without_csrf_are_refused(console: Console) -> None:
    customer, _ = await console.customer()
    token = await csrf_token(customer, "/")
    headers = {"Origin": SHOP, "Sec-Fetch-Site": "same-origin"}
    admin = await console.admin()

    seen = await customer.get(PAGE)
    created = await customer.post(PAGE, data={"csrf_token": token, **NEW}, headers=headers)
    no_csrf = await admin.post(PAGE, data=NEW, headers=headers)
    visitor = await console.browser().get(PAGE)

    assert seen.status_code == 403 and ADMINS_ONLY in seen.text
    assert created.status_code == 403 and no_csrf.status_code == 403
    assert visitor.status_code == 303 and "/login" in visitor.headers["location"]
    assert await codes(console) == []
