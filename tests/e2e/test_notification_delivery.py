"""Mail end to end: register and check out through the gateway; the mails arrive.

`mercato up` runs with no SMTP server given, so its development mail sink takes the
mail into `<data_dir>/mail` (a maildir); the customer's messages, read through the
gateway, show the same mails.
"""

from __future__ import annotations

from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from tests.e2e.client import Account, Shop, System, confirmed_checkout, eventually

pytestmark = pytest.mark.e2e


def sunk(system: System, address: str) -> list[EmailMessage]:
    """The mails the development sink kept for `address`."""
    mails = []
    for path in sorted((system.data_dir / "mail" / "new").glob("*")):
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        assert isinstance(message, EmailMessage)
        if address in str(message["To"]):
            mails.append(message)
    return mails


@pytest.mark.parametrize("system", ["nats"], indirect=True)
def test_a_checkout_mails_its_confirmation_to_the_dev_sink(
    system: System, shop: Shop, customer: Account
) -> None:
    order = confirmed_checkout(shop, customer)

    def both() -> list[EmailMessage] | None:
        mails = sunk(system, customer.email)
        return mails if len(mails) >= 2 else None

    mails = eventually(both, timeout=30)
    subjects = {str(mail["Subject"]) for mail in mails}
    assert "Welcome to Mercato" in subjects
    confirmation = f"Your Mercato order {order['id']} is confirmed"
    assert confirmation in subjects
    (sent,) = [m for m in mails if m["Subject"] == confirmation]
    text = sent.get_body(preferencelist=("plain",))
    assert text is not None and order["id"] in text.get_content()

    def listed() -> list[dict[str, Any]] | None:
        response = shop.http.get("/api/notifications/messages", headers=customer.headers)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        items: list[dict[str, Any]] = response.json()["items"]
        return items if len(items) >= 2 else None

    items = eventually(listed, timeout=10)
    assert {item["kind"] for item in items} == {"account_created", "order_confirmed"}
    (confirmed,) = [item for item in items if item["kind"] == "order_confirmed"]
    assert confirmed["order_id"] == order["id"] and confirmed["to"] == customer.email
    # Another customer sees none of it, and cannot read it by id.
    other = shop.new_customer()
    theirs = shop.http.get(f"/api/notifications/messages/{confirmed['id']}", headers=other.headers)
    assert theirs.status_code == 404
    assert shop.http.get("/api/notifications/templates", headers=other.headers).status_code == 403
