"""Service tests of the console's shipments page: shipments packed, shipped, delivered.

The shipping service runs for real (its shipments made by handing it `order.confirmed`,
as its consumer would); what the forms did is read back from its API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mercato.web.ops.access import ADMINS_ONLY
from tests.support.console import Console, open_console
from tests.support.ops_fulfilment import moved, shipment
from tests.support.tokens import TokenFactory
from tests.support.web import SHOP, csrf_token, submit

PAGE = "/ops/shipments"
TRACKING = {
    "carrier": "DHL",
    "tracking_number": "JD0142",
    "tracking_url": "https://dhl.example/JD0142",
}


@pytest.fixture
async def console(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Console]:
    async with open_console(tmp_path, tokens, shipping=True) as console:
        yield console


async def at_shipping(console: Console, shipment_id: str) -> dict[str, Any]:
    answer = await console.http("shipping").get(
        f"/api/shipping/shipments/{shipment_id}", headers=await console.admin_api()
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_an_admin_packs_ships_and_delivers_a_shipment(console: Console) -> None:
    order_id, shipment_id = await shipment(console, "u-ann", {"p-tea": 2, "p-cup": 1})
    admin = await console.admin()

    page = await admin.get(PAGE)
    assert page.status_code == 200
    assert f"Shipment {shipment_id}" in page.text and f'href="/ops/orders/{order_id}"' in page.text
    assert "2 × p-tea" in page.text and f'action="{PAGE}/{shipment_id}/pack"' in page.text
    assert f"{PAGE}/{shipment_id}/ship" not in page.text  # not packed yet

    packed = await submit(admin, f"{PAGE}/{shipment_id}/pack", {}, page=PAGE)
    assert packed.status_code == 303, packed.text
    assert (await at_shipping(console, shipment_id))["status"] == "packed"
    shipped = await submit(admin, f"{PAGE}/{shipment_id}/ship", TRACKING, page=PAGE)
    assert shipped.status_code == 303, shipped.text
    delivered = await submit(admin, f"{PAGE}/{shipment_id}/deliver", {}, page=PAGE)
    assert delivered.status_code == 303, delivered.text

    done = await at_shipping(console, shipment_id)
    assert done["status"] == "delivered" and done["carrier"] == "DHL"
    assert done["tracking_number"] == "JD0142"
    assert done["tracking_url"] == "https://dhl.example/JD0142"
    after = await admin.get(delivered.headers["location"])
    assert f"The shipment {shipment_id} was delivered." in after.text
    assert "DHL JD0142" in after.text


async def test_the_status_filter_and_newest_first(console: Console) -> None:
    _, older = await shipment(console, "u-1", {"p1": 1})
    _, newer = await shipment(console, "u-2", {"p2": 1})
    _, packed = await shipment(console, "u-3", {"p3": 1})
    await moved(console, packed, "pack")
    admin = await console.admin()

    everything = (await admin.get(PAGE)).text
    pending = (await admin.get(PAGE, params={"status": "pending"})).text
    only_packed = (await admin.get(PAGE, params={"status": "packed"})).text

    assert everything.index(f"Shipment {packed}") < everything.index(f"Shipment {newer}")
    assert everything.index(f"Shipment {newer}") < everything.index(f"Shipment {older}")
    assert older in pending and newer in pending and packed not in pending
    assert packed in only_packed and older not in only_packed
    assert (
        "No shipment is delivered." in (await admin.get(PAGE, params={"status": "delivered"})).text
    )


async def test_the_pages_go_on_with_the_cursor(console: Console) -> None:
    made = [(await shipment(console, f"u-{i}", {"p": 1}))[1] for i in range(22)]
    admin = await console.admin()

    first = await admin.get(PAGE)
    assert 'rel="next"' in first.text
    next_href = first.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0]
    second = await admin.get(next_href.replace("&amp;", "&"))

    assert all(f"Shipment {s}" in first.text for s in made[2:])
    assert all(f"Shipment {s}" in second.text for s in made[:2])
    assert f"Shipment {made[5]}" not in second.text
    bad = await admin.get(PAGE, params={"cursor": "not-a-cursor"})
    assert bad.status_code == 200 and "cannot be read" in bad.text


async def test_ship_mistakes_are_beside_their_fields(console: Console) -> None:
    _, shipment_id = await shipment(console, "u-ann", {"p1": 1})
    await moved(console, shipment_id, "pack")
    admin = await console.admin()
    action = f"{PAGE}/{shipment_id}/ship"

    empty = await submit(admin, action, {"carrier": "", "tracking_number": ""}, page=PAGE)
    bad_url = await submit(
        admin, action, {**TRACKING, "tracking_url": "javascript:alert(1)"}, page=PAGE
    )

    assert empty.status_code == 422
    assert f'id="ship-{shipment_id}-carrier-error"' in empty.text
    assert f'id="ship-{shipment_id}-tracking_number-error"' in empty.text
    assert bad_url.status_code == 422  # the shipping service's own check
    assert f'id="ship-{shipment_id}-tracking_url-error"' in bad_url.text
    assert 'value="JD0142"' in bad_url.text  # what was typed is kept
    assert (await at_shipping(console, shipment_id))["status"] == "packed"


async def test_a_refused_move_says_why(console: Console) -> None:
    _, shipment_id = await shipment(console, "u-ann", {"p1": 1})
    admin = await console.admin()

    early = await submit(admin, f"{PAGE}/{shipment_id}/deliver", {}, page=PAGE)
    unknown = await submit(admin, f"{PAGE}/nope/pack", {}, page=PAGE)

    assert early.status_code == 409
    assert f'id="shipment-{shipment_id}-refusal"' in early.text
    assert "The shipment is pending: it cannot become delivered." in early.text
    assert unknown.status_code == 404 and "Shipment nope:" in unknown.text
    assert (await at_shipping(console, shipment_id))["status"] == "pending"


async def test_customers_visitors_and_other_sites_cannot_move_shipments(
    console: Console,
) -> None:
    _, shipment_id = await shipment(console, "u-ann", {"p1": 1})
    customer, _ = await console.customer()
    token = await csrf_token(customer, "/")
    headers = {"Origin": SHOP, "Sec-Fetch-Site": "same-origin"}
    admin = await console.admin()

    seen = await customer.get(PAGE)
    posted = await customer.post(
        f"{PAGE}/{shipment_id}/pack", data={"csrf_token": token}, headers=headers
    )
    visitor = await console.browser().get(PAGE)
    no_csrf = await admin.post(f"{PAGE}/{shipment_id}/pack", data={}, headers=headers)

    assert seen.status_code == 403 and ADMINS_ONLY in seen.text
    assert posted.status_code == 403
    assert visitor.status_code == 303 and "/login" in visitor.headers["location"]
    assert no_csrf.status_code == 403
    assert (await at_shipping(console, shipment_id))["status"] == "pending"


async def test_shipping_down_is_said_on_the_page(tmp_path: Path, tokens: TokenFactory) -> None:
    async with open_console(tmp_path, tokens) as console:  # no shipping service
        admin = await console.admin()
        page = await admin.get(PAGE)
        assert page.status_code == 200
        assert "Deliveries and returns is unavailable right now" in page.text
