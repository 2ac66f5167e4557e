"""Service tests of `POST /api/payments/{id}/refunds`: limits, guards and idempotency."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mercato.contracts.events import PaymentRefunded
from mercato.payments.routes import REPLAYED
from tests.support.payments import API, DECLINED_CARD, Shop, started, usd
from tests.support.tokens import TokenFactory


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    """The payments service with the simulated provider."""
    async with started(tmp_path, tokens) as shop:
        yield shop


async def test_partial_then_full_refund(shop: Shop) -> None:
    payment = await shop.paid(5000)
    first = await shop.refund(payment["id"], {"amount": usd(1500), "reason": "damaged"})
    assert first.status_code == 201, first.text
    refund = first.json()
    assert refund["payment_id"] == payment["id"] and refund["amount"] == usd(1500)
    assert refund["reason"] == "damaged" and refund["status"] == "succeeded"
    assert set(refund) >= {"id", "payment_id", "amount", "reason", "created_at"}
    rest = await shop.refund(payment["id"], {"reason": "order cancelled"})
    assert rest.status_code == 201 and rest.json()["amount"] == usd(3500)
    read = await shop.client.get(f"{API}/{payment['id']}", headers=shop.service)
    assert read.json()["refunded_amount"] == usd(5000) and read.json()["status"] == "succeeded"
    listed = await shop.client.get(f"{API}/{payment['id']}/refunds", headers=shop.admin())
    assert [item["id"] for item in listed.json()["items"]] == [refund["id"], rest.json()["id"]]
    events = await shop.outbox("payment.refunded")
    assert len(events) == 2
    data = PaymentRefunded.model_validate(events[0]["data"])
    assert (data.payment_id, data.refund_id, data.reason) == (
        payment["id"],
        refund["id"],
        "damaged",
    )
    assert (data.order_id, data.user_id) == (payment["order_id"], payment["user_id"])
    assert (data.amount.amount, data.amount.currency) == (1500, "USD")
    assert events[0]["subject"] == payment["id"]


async def test_refunds_never_exceed_the_charge(shop: Shop) -> None:
    payment = await shop.paid(1000)
    too_much = await shop.refund(payment["id"], {"amount": usd(1001), "reason": "r"})
    assert too_much.status_code == 422
    assert too_much.json()["errors"][0]["field"] == "amount.amount"
    assert (
        await shop.refund(payment["id"], {"amount": usd(600), "reason": "r"})
    ).status_code == 201
    over = await shop.refund(payment["id"], {"amount": usd(401), "reason": "r"})
    assert over.status_code == 422 and "at most 400" in over.text
    assert (
        await shop.refund(payment["id"], {"amount": usd(400), "reason": "r"})
    ).status_code == 201
    done = await shop.refund(payment["id"], {"reason": "again"})
    assert done.status_code == 422 and done.json()["errors"][0]["field"] == "amount"
    currency = await shop.refund(
        payment["id"], {"amount": {"amount": 1, "currency": "EUR"}, "reason": "r"}
    )
    assert currency.status_code == 422
    assert len(await shop.outbox("payment.refunded")) == 2


async def test_concurrent_refunds_stay_within_the_charge(shop: Shop) -> None:
    payment = await shop.paid(1000)
    body = {"amount": usd(300), "reason": "r"}
    responses = await asyncio.gather(*(shop.refund(payment["id"], body) for _ in range(5)))
    assert sorted(r.status_code for r in responses) == [201, 201, 201, 422, 422]
    read = await shop.client.get(f"{API}/{payment['id']}", headers=shop.service)
    assert read.json()["refunded_amount"] == usd(900)


async def test_only_succeeded_payments_are_refunded(shop: Shop) -> None:
    declined = await shop.paid(1000, DECLINED_CARD)
    response = await shop.refund(declined["id"], {"reason": "r"})
    assert response.status_code == 409
    assert (await shop.refund("no-such-payment", {"reason": "r"})).status_code == 404


async def test_a_retry_answers_the_first_refund(shop: Shop) -> None:
    payment = await shop.paid(1000)
    body = {"amount": usd(100), "reason": "r"}
    first = await shop.refund(payment["id"], body, key="o:refund")
    again = await shop.refund(payment["id"], body, key="o:refund")
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    other = await shop.refund(payment["id"], {"amount": usd(200), "reason": "r"}, key="o:refund")
    assert other.status_code == 422 and other.json()["errors"][0]["field"] == "Idempotency-Key"
    read = await shop.client.get(f"{API}/{payment['id']}", headers=shop.service)
    assert read.json()["refunded_amount"] == usd(100)
    assert len(await shop.outbox("payment.refunded")) == 1


async def test_refund_guards(shop: Shop) -> None:
    payment = await shop.paid(1000)
    url = f"{API}/{payment['id']}/refunds"
    body = {"reason": "r"}
    _, customer = shop.customer(payment["user_id"])
    keyed = {"Idempotency-Key": "k"}
    assert (await shop.client.post(url, json=body, headers=keyed)).status_code == 401
    forbidden = await shop.client.post(url, json=body, headers={**customer, **keyed})
    assert forbidden.status_code == 403
    no_key = await shop.client.post(url, json=body, headers=shop.service)
    assert no_key.status_code == 400
    bad = await shop.client.post(url, json={"reason": ""}, headers={**shop.service, **keyed})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason"
    admin = await shop.client.post(url, json=body, headers={**shop.admin(), **keyed})
    assert admin.status_code == 201
    mine = await shop.client.get(f"{API}/{payment['id']}/refunds", headers=customer)
    assert len(mine.json()["items"]) == 1
    _, stranger = shop.customer()
    theirs = await shop.client.get(f"{API}/{payment['id']}/refunds", headers=stranger)
    assert theirs.status_code == 404
