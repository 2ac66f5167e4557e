"""Unit tests of orders' calls to the catalog and payments, on a scripted ServiceClient.

Requests are built with the contracts' models and answers parsed into them: a
request the contract refuses is never sent and ends as the service's 422 would
have ended it; an answer that is not the contract's shape is a 502 (the saga tries
again later), never a KeyError deep in a step.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import orjson
import pytest

from mercato.chassis.client.service_client import (
    ServiceClient,
    ServiceResponse,
    ServiceResponseError,
)
from mercato.contracts.inventory import MAX_TTL_SECONDS
from mercato.contracts.money import MAX_AMOUNT
from mercato.contracts.products import Money
from mercato.orders.clients import Catalog, Payments, Refund, Rejected, Retry
from mercato.orders.settings import OrdersSettings, load_settings

PAYMENT = {
    "id": "pay-1",
    "status": "succeeded",
    "reason": None,
    "order_id": "o-1",
    "user_id": "u-1",
    "payment_method_id": "pm-1",
    "amount": {"amount": 900, "currency": "USD"},
    "refunded_amount": {"amount": 0, "currency": "USD"},
    "created_at": "2025-01-01T00:00:00Z",
    "updated_at": "2025-01-01T00:00:00Z",
}
RESERVATION = {
    "order_id": "o-1",
    "status": "reserved",
    "items": [{"product_id": "p", "quantity": 2, "unit_price": {"amount": 450, "currency": "USD"}}],
    "total": {"amount": 900, "currency": "USD"},
    "expires_at": "2025-01-01T00:15:00Z",
    "reason": None,
    "created_at": "2025-01-01T00:00:00Z",
    "updated_at": "2025-01-01T00:00:00Z",
}


class Scripted:
    """A ServiceClient stand-in: answers the scripted bodies in turn, records the calls."""

    def __init__(self, *answers: tuple[int, Any]) -> None:
        self.answers: Iterator[tuple[int, Any]] = iter(answers)
        self.calls: list[tuple[str, str, Any]] = []

    async def request(self, method: str, url: str, **kwargs: Any) -> ServiceResponse:
        self.calls.append((method, url, kwargs.get("json")))
        status, body = next(self.answers)
        return ServiceResponse(status, {}, orjson.dumps(body), target=kwargs["target"])


@pytest.fixture
def settings(tmp_path: Path) -> OrdersSettings:
    return load_settings(data_dir=tmp_path, broker_url="")


def clients(settings: OrdersSettings, http: Scripted) -> tuple[Catalog, Payments]:
    client = cast(ServiceClient, http)
    return Catalog(client, settings), Payments(client, settings)


async def test_answers_are_parsed_into_the_contract(settings: OrdersSettings) -> None:
    http = Scripted((201, RESERVATION), (201, PAYMENT))
    catalog, payments = clients(settings, http)
    items = [{"product_id": "p", "quantity": 2, "title": "Tea"}]
    reservation = await catalog.reserve(order_id="o-1", items=items, ttl_seconds=900)
    assert reservation.ok and reservation.items[0].unit_price == Money(amount=450, currency="USD")
    charge = await payments.charge(
        order_id="o-1", user_id="u-1", payment_method_id="pm-1", amount=900, currency="USD"
    )
    assert (charge.succeeded, charge.payment_id) == (True, "pay-1")
    assert [json for _, _, json in http.calls] == [
        {"order_id": "o-1", "items": [{"product_id": "p", "quantity": 2}], "ttl_seconds": 900},
        {
            "order_id": "o-1",
            "user_id": "u-1",
            "payment_method_id": "pm-1",
            "amount": {"amount": 900, "currency": "USD"},
        },
    ]


async def test_a_charge_still_unknown_is_tried_again(settings: OrdersSettings) -> None:
    _, payments = clients(settings, Scripted((201, {**PAYMENT, "status": "unknown"})))
    with pytest.raises(Retry, match="unknown"):
        await payments.charge(
            order_id="o-1", user_id="u-1", payment_method_id="pm-1", amount=900, currency="USD"
        )


@pytest.mark.parametrize(
    "answer",
    [
        {"items": 1, "next_cursor": None},  # not a list
        {"items": [{"id": "p", "title": "Tea"}], "next_cursor": None},  # a product without price
        [],  # not a page
    ],
)
async def test_an_answer_outside_the_contract_is_a_bad_gateway(
    settings: OrdersSettings, answer: Any
) -> None:
    catalog, _ = clients(settings, Scripted((200, answer)))
    with pytest.raises(ServiceResponseError):
        await catalog.products(["p"])


async def test_a_reservation_the_contract_refuses_is_not_sent(settings: OrdersSettings) -> None:
    http = Scripted()
    catalog, _ = clients(settings, http)
    reservation = await catalog.reserve(
        order_id="o-1", items=[{"product_id": "p", "quantity": 1}], ttl_seconds=MAX_TTL_SECONDS + 1
    )
    assert not reservation.ok and not reservation.out_of_stock
    assert "ttl_seconds" in reservation.reason
    assert http.calls == []


async def test_a_charge_or_refund_the_contract_refuses_is_not_sent(
    settings: OrdersSettings,
) -> None:
    http = Scripted()
    _, payments = clients(settings, http)
    charge = await payments.charge(
        order_id="o-1",
        user_id="u-1",
        payment_method_id="pm-1",
        amount=MAX_AMOUNT + 1,
        currency="USD",
    )
    assert (charge.succeeded, charge.payment_id) == (False, None)
    assert charge.reason.startswith("amount: ")
    with pytest.raises(Rejected, match="reason"):
        await payments.refund(order_id="o-1", payment_id="pay-1", reason="   ")
    assert http.calls == []


async def test_a_payment_refunded_in_full_already_is_not_refunded_again(
    settings: OrdersSettings,
) -> None:
    refunded = {
        "id": "r-1",
        "payment_id": "pay-1",
        "status": "succeeded",
        "amount": {"amount": 900, "currency": "USD"},
        "reason": "by an admin",
        "failure_reason": None,
        "created_at": "2025-01-01T00:00:00Z",
    }
    nothing_left = {"type": "about:blank", "title": "Unprocessable", "status": 422}
    http = Scripted((422, nothing_left), (200, PAYMENT), (200, {"items": [refunded]}))
    _, payments = clients(settings, http)
    outcome = await payments.refund(order_id="o-1", payment_id="pay-1", reason="cancelled")
    assert outcome is Refund.ALREADY
    assert http.calls[0] == ("POST", "/api/payments/pay-1/refunds", {"reason": "cancelled"})
