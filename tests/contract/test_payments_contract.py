"""Contract tests between payments (provider) and orders (consumer): charges and refunds.

Orders charges an order's total and refunds it with the models of
`mercato.contracts.payments`, and reads a payment and its refunds to tell one
refunded in full. Payments' OpenAPI document states those very models for its
routes, and its real answers parse into them, holding no field they do not name.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from mercato.contracts.payments import (
    ChargeIn,
    MoneyIn,
    MoneyOut,
    PaymentOut,
    RefundIn,
    RefundList,
    RefundOut,
)
from tests.support.contracts import answer_schema, body_schema, documented, ref
from tests.support.payments import API, DECLINED_CARD, Shop, started
from tests.support.tokens import TokenFactory


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    """The payments service with the simulated provider."""
    async with started(tmp_path, tokens) as shop:
        yield shop


def charge_of(order_id: str, user_id: str, method_id: str, amount: int) -> dict[str, Any]:
    """The body of a charge, built as orders builds it."""
    request = ChargeIn(
        order_id=order_id,
        user_id=user_id,
        payment_method_id=method_id,
        amount=MoneyIn(amount=amount, currency="USD"),
    )
    return request.model_dump(mode="json", exclude_unset=True)


def test_the_requests_orders_sends_are_the_ones_it_always_sent() -> None:
    assert charge_of("o", "u", "pm", 5000) == {
        "order_id": "o",
        "user_id": "u",
        "payment_method_id": "pm",
        "amount": {"amount": 5000, "currency": "USD"},
    }
    refund = RefundIn(reason="cancelled")
    assert refund.model_dump(mode="json", exclude_unset=True) == {"reason": "cancelled"}


async def test_the_document_states_the_contract_models(shop: Shop) -> None:
    response = await shop.client.get(f"{API}/openapi.json")
    assert response.status_code == 200
    document = response.json()
    payment, refunds = f"{API}/{{payment_id}}", f"{API}/{{payment_id}}/refunds"
    assert body_schema(document, "post", f"{API}/charges") == ref(ChargeIn)
    assert answer_schema(document, "post", f"{API}/charges", 201) == ref(PaymentOut)
    assert body_schema(document, "post", refunds) == ref(RefundIn)
    assert answer_schema(document, "post", refunds, 201) == ref(RefundOut)
    assert answer_schema(document, "get", refunds, 200) == ref(RefundList)
    assert answer_schema(document, "get", payment, 200) == ref(PaymentOut)
    components = document["components"]["schemas"]
    stated = {
        **documented(ChargeIn, "validation"),
        **documented(RefundIn, "validation"),
        **documented(PaymentOut, "serialization"),
        **documented(RefundList, "serialization"),
    }
    assert {"MoneyIn", "MoneyOut", "RefundOut"} <= set(stated)
    for name, schema in stated.items():
        assert components[name] == schema, name


async def test_a_charge_and_its_refund_parse_as_orders_reads_them(shop: Shop) -> None:
    user_id, headers = shop.customer()
    method_id = await shop.add_card(headers)
    order_id = str(uuid.uuid4())
    charged = await shop.charge(
        charge_of(order_id, user_id, method_id, 5000), key=f"{order_id}:charge"
    )
    assert charged.status_code == 201, charged.text
    payment = PaymentOut.model_validate_json(charged.content)
    assert set(charged.json()) == set(PaymentOut.model_fields)
    assert (payment.status, payment.order_id, payment.amount) == (
        "succeeded",
        order_id,
        MoneyOut(amount=5000, currency="USD"),
    )

    body = RefundIn(reason="cancelled").model_dump(mode="json", exclude_unset=True)
    refunded = await shop.refund(payment.id, body, key=f"{order_id}:refund")
    assert refunded.status_code == 201, refunded.text
    refund = RefundOut.model_validate_json(refunded.content)
    assert set(refunded.json()) == set(RefundOut.model_fields)
    assert (refund.payment_id, refund.status, refund.amount) == (
        payment.id,
        "succeeded",
        MoneyOut(amount=5000, currency="USD"),
    )

    read = await shop.client.get(f"{API}/{payment.id}", headers=shop.service)
    assert PaymentOut.model_validate_json(read.content).refunded_amount == payment.amount
    listed = await shop.client.get(f"{API}/{payment.id}/refunds", headers=shop.service)
    assert RefundList.model_validate_json(listed.content).items == [refund]


async def test_a_declined_charge_parses_with_its_reason(shop: Shop) -> None:
    user_id, headers = shop.customer()
    method_id = await shop.add_card(headers, DECLINED_CARD)
    order_id = str(uuid.uuid4())
    charged = await shop.charge(charge_of(order_id, user_id, method_id, 700))
    assert charged.status_code == 201, charged.text
    payment = PaymentOut.model_validate_json(charged.content)
    assert (payment.status, payment.reason) == ("failed", "declined")
