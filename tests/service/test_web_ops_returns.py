"""Service tests of the console's returns page: returns accepted, rejected, received.

The shipping service runs for real; a customer (a real account at auth) asks for a
return of a delivered order at its API, and the administrator decides on the page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mercato.web.ops.access import ADMINS_ONLY
from tests.support.console import Console, open_console
from tests.support.ops_fulfilment import ask_return
from tests.support.tokens import TokenFactory
from tests.support.web import SHOP, csrf_token, submit

PAGE = "/ops/returns"


@pytest.fixture
async def console(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Console]:
    async with open_console(tmp_path, tokens, shipping=True) as console:
        yield console


async def at_shipping(console: Console, return_id: str) -> dict[str, Any]:
    answer = await console.http("shipping").get(
        f"/api/shipping/returns/{return_id}", headers=await console.admin_api()
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_an_admin_accepts_then_receives_a_return(console: Console) -> None:
    _, email = await console.customer()
    order_id, return_id = await ask_return(console, email)
    admin = await console.admin()

    page = await admin.get(PAGE)
    assert f"Return {return_id}" in page.text and f'href="/ops/orders/{order_id}"' in page.text
    assert "1 × p1" in page.text and "too small" in page.text
    assert f"{PAGE}/{return_id}/receive" not in page.text  # not accepted yet

    accepted = await submit(admin, f"{PAGE}/{return_id}/accept", {}, page=PAGE)
    assert accepted.status_code == 303, accepted.text
    assert (await at_shipping(console, return_id))["status"] == "accepted"
    received = await submit(admin, f"{PAGE}/{return_id}/receive", {}, page=PAGE)
    assert received.status_code == 303, received.text

    assert (await at_shipping(console, return_id))["status"] == "received"
    after = await admin.get(received.headers["location"])
    assert f"The return {return_id} was received." in after.text


async def test_a_rejection_needs_a_reason_which_the_return_keeps(console: Console) -> None:
    _, email = await console.customer()
    _, return_id = await ask_return(console, email)
    admin = await console.admin()
    action = f"{PAGE}/{return_id}/reject"

    empty = await submit(admin, action, {"reason": "   "}, page=PAGE)
    assert empty.status_code == 422
    assert f'id="reject-{return_id}-reason-error"' in empty.text
    assert (await at_shipping(console, return_id))["status"] == "requested"

    rejected = await submit(admin, action, {"reason": "Worn: not as it was sent."}, page=PAGE)

    assert rejected.status_code == 303
    done = await at_shipping(console, return_id)
    assert done["status"] == "rejected"
    assert done["rejection_reason"] == "Worn: not as it was sent."
    listed = await admin.get(PAGE, params={"status": "rejected"})
    assert "Worn: not as it was sent." in listed.text


async def test_the_status_filter(console: Console) -> None:
    _, email = await console.customer()
    _, first = await ask_return(console, email, "p1")
    _, second = await ask_return(console, email, "p2")
    admin = await console.admin()
    assert (await submit(admin, f"{PAGE}/{second}/accept", {}, page=PAGE)).status_code == 303

    requested = (await admin.get(PAGE, params={"status": "requested"})).text
    accepted = (await admin.get(PAGE, params={"status": "accepted"})).text
    everything = (await admin.get(PAGE)).text

    assert f"Return {first}" in requested and f"Return {second}" not in requested
    assert f"Return {second}" in accepted and f"Return {first}" not in accepted
    assert everything.index(f"Return {second}") < everything.index(f"Return {first}")


async def test_a_refused_move_says_why(console: Console) -> None:
    _, email = await console.customer()
    _, return_id = await ask_return(console, email)
    admin = await console.admin()

    early = await submit(admin, f"{PAGE}/{return_id}/receive", {}, page=PAGE)

    assert early.status_code == 409
    assert f'id="return-{return_id}-refusal"' in early.text
    assert (await at_shipping(console, return_id))["status"] == "requested"


async def test_customers_and_posts_without_csrf_are_refused(console: Console) -> None:
    customer, email = await console.customer()
    _, return_id = await ask_return(console, email)
    token = await csrf_token(customer, "/")
    headers = {"Origin": SHOP, "Sec-Fetch-Site": "same-origin"}
    admin = await console.admin()

    seen = await customer.get(PAGE)
    own = await customer.post(
        f"{PAGE}/{return_id}/accept", data={"csrf_token": token}, headers=headers
    )
    no_csrf = await admin.post(f"{PAGE}/{return_id}/accept", data={}, headers=headers)
    visitor = await console.browser().get(PAGE)

    assert seen.status_code == 403 and ADMINS_ONLY in seen.text
    assert own.status_code == 403  # not even their own return
    assert no_csrf.status_code == 403
    assert visitor.status_code == 303 and "/login" in visitor.headers["location"]
    assert (await at_shipping(console, return_id))["status"] == "requested"
