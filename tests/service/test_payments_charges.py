"""Service tests of `POST /api/payments/charges`: outcomes, guards and idempotency."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from mercato.contracts.events import PaymentFailed, PaymentSucceeded
from mercato.payments.models import Payment
from mercato.payments.routes import REPLAYED
from mercato.payments.simulated import SimulatedCharge
from tests.support.payments import (
    API,
    DECLINED_CARD,
    NO_FUNDS_CARD,
    OK_CARD,
    OTHER_CARD,
    GatedProvider,
    Shop,
    started,
    usd,
)
from tests.support.tokens import TokenFactory


@pytest.fixture
async def shop(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Shop]:
    """The payments service with the simulated provider."""
    async with started(tmp_path, tokens) as shop:
        yield shop


async def count(shop: Shop, model: type[Payment] | type[SimulatedCharge]) -> int:
    """How many rows `model`'s table holds."""
    async with shop.app.state.runtime.database.session() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.mark.parametrize(
    ("number", "status", "reason"),
    [
        (OK_CARD, "succeeded", None),
        (OTHER_CARD, "succeeded", None),
        (DECLINED_CARD, "failed", "declined"),
        (NO_FUNDS_CARD, "failed", "insufficient_funds"),
    ],  # the timeout card's charge is unknown first (tests/service/test_payments_reconcile.py)
)
async def test_each_test_card_has_its_outcome_and_event(
    shop: Shop, number: str, status: str, reason: str | None
) -> None:
    user_id, headers = shop.customer()
    method_id = await shop.add_card(headers, number)
    body = shop.charge_body(user_id, method_id, 1999)
    started_at = time.monotonic()
    response = await shop.charge(body)
    assert time.monotonic() - started_at < 30.0  # the 1 s deadline, not the provider's hour
    assert response.status_code == 201, response.text
    payment = response.json()
    assert (payment["status"], payment["reason"]) == (status, reason)
    assert payment["order_id"] == body["order_id"] and payment["user_id"] == user_id
    assert payment["payment_method_id"] == method_id
    assert payment["amount"] == usd(1999) and payment["refunded_amount"] == usd(0)
    assert datetime.fromisoformat(payment["created_at"]) <= datetime.now(UTC)
    [event] = await shop.outbox()
    assert event["type"] == f"payment.{status}" and event["subject"] == payment["id"]
    assert event["source"] == "payments" and event["version"] == 1
    data: PaymentSucceeded | PaymentFailed
    if status == "succeeded":
        data = PaymentSucceeded.model_validate(event["data"])
        assert data.method_id == method_id
    else:
        failed = PaymentFailed.model_validate(event["data"])
        assert failed.reason == reason
        data = failed
    assert (data.payment_id, data.order_id, data.user_id) == (
        payment["id"],
        body["order_id"],
        user_id,
    )
    assert (data.amount.amount, data.amount.currency) == (1999, "USD")
    read = await shop.client.get(f"{API}/{payment['id']}", headers=headers)
    assert read.json() == payment


async def test_admins_may_charge_customers_may_not(shop: Shop) -> None:
    user_id, headers = shop.customer()
    method_id = await shop.add_card(headers)
    body = shop.charge_body(user_id, method_id)
    assert (await shop.charge(body, headers=headers)).status_code == 403
    assert (await shop.charge(body, headers={})).status_code == 401
    assert (await shop.charge(body, headers=shop.admin())).status_code == 201
    assert await count(shop, Payment) == 1


async def test_the_idempotency_key_is_required(shop: Shop) -> None:
    user_id, headers = shop.customer()
    body = shop.charge_body(user_id, await shop.add_card(headers))
    for sent in ({}, {"Idempotency-Key": "  "}, {"Idempotency-Key": "k" * 256}):
        response = await shop.client.post(
            f"{API}/charges", json=body, headers={**shop.service, **sent}
        )
        assert response.status_code == 400, sent
        assert response.headers["content-type"] == "application/problem+json"
    assert await count(shop, Payment) == 0


async def test_a_key_may_hold_the_letters_orders_takes(shop: Shop) -> None:
    """One rule for both services: Latin-1 letters too (payments took ASCII only)."""
    user_id, headers = shop.customer()
    body = shop.charge_body(user_id, await shop.add_card(headers))
    sent = [(name.encode(), value.encode()) for name, value in shop.service.items()]
    keyed = [*sent, (b"Idempotency-Key", "bestellung-müller".encode("latin-1"))]
    first = await shop.client.post(f"{API}/charges", json=body, headers=keyed)
    assert first.status_code == 201, first.text
    again = await shop.client.post(f"{API}/charges", json=body, headers=keyed)
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    control = [*sent, (b"Idempotency-Key", b"best\x85ellung")]
    refused = await shop.client.post(f"{API}/charges", json=body, headers=control)
    assert refused.status_code == 400
    assert await count(shop, Payment) == 1


async def test_the_method_must_belong_to_the_user(shop: Shop) -> None:
    _, owner = shop.customer()
    method_id = await shop.add_card(owner)
    stranger = str(uuid.uuid4())
    response = await shop.charge(shop.charge_body(stranger, method_id))
    assert response.status_code == 404
    missing = await shop.charge(shop.charge_body(stranger, "no-such-method"))
    assert missing.status_code == 404
    assert await count(shop, Payment) == 0


BAD_CHARGES: list[tuple[dict[str, object], list[str]]] = [
    ({"amount": usd(0)}, ["amount.amount"]),
    ({"amount": usd(-5)}, ["amount.amount"]),
    ({"amount": {"amount": 10.5, "currency": "USD"}}, ["amount.amount"]),
    ({"amount": {"amount": 100, "currency": "dollars"}}, ["amount.currency"]),
    ({"amount": None}, ["amount"]),
    ({"order_id": ""}, ["order_id"]),
    ({"user_id": None}, ["user_id"]),
    ({"payment_method_id": "x" * 65}, ["payment_method_id"]),
    ({"extra": 1}, ["extra"]),
]


async def test_bad_charges_name_the_field(shop: Shop) -> None:
    for change, fields in BAD_CHARGES:
        response = await shop.charge({**shop.charge_body("u", "m"), **change})
        assert response.status_code == 422, change
        assert [error["field"] for error in response.json()["errors"]] == fields, change
    assert await count(shop, Payment) == 0


async def test_a_retry_answers_the_first_payment_again(shop: Shop) -> None:
    user_id, headers = shop.customer()
    method_id = await shop.add_card(headers)
    body = shop.charge_body(user_id, method_id)
    first = await shop.charge(body, key="order-1:charge")
    assert first.status_code == 201 and REPLAYED not in first.headers
    await shop.client.delete(f"{API}/methods/{method_id}", headers=headers)
    again = await shop.charge(body, key="order-1:charge")
    assert again.status_code == 201 and again.headers[REPLAYED] == "true"
    assert again.json() == first.json()
    assert await count(shop, Payment) == 1 and await count(shop, SimulatedCharge) == 1
    assert len(await shop.outbox()) == 1


async def test_a_declined_retry_stays_declined(shop: Shop) -> None:
    user_id, headers = shop.customer()
    body = shop.charge_body(user_id, await shop.add_card(headers, DECLINED_CARD))
    first = (await shop.charge(body, key="k")).json()
    again = await shop.charge(body, key="k")
    assert again.json() == first and first["status"] == "failed"
    assert len(await shop.outbox("payment.failed")) == 1


async def test_the_same_key_with_another_body_is_refused(shop: Shop) -> None:
    user_id, headers = shop.customer()
    body = shop.charge_body(user_id, await shop.add_card(headers))
    assert (await shop.charge(body, key="k1")).status_code == 201
    other = await shop.charge({**body, "amount": usd(1)}, key="k1")
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await count(shop, Payment) == 1


async def test_concurrent_retries_charge_once(shop: Shop) -> None:
    user_id, headers = shop.customer()
    body = shop.charge_body(user_id, await shop.add_card(headers))
    responses = await asyncio.gather(*(shop.charge(body, key="same") for _ in range(6)))
    statuses = sorted(response.status_code for response in responses)
    assert set(statuses) <= {201, 409} and 201 in statuses
    ids = {response.json()["id"] for response in responses if response.status_code == 201}
    assert len(ids) == 1
    assert await count(shop, Payment) == 1 and await count(shop, SimulatedCharge) == 1
    assert len(await shop.outbox()) == 1


async def test_a_duplicate_while_the_first_runs_is_409(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    provider = GatedProvider()
    async with started(tmp_path, tokens, provider=provider) as shop:
        user_id, headers = shop.customer()
        body = shop.charge_body(user_id, await shop.add_card(headers))
        first = asyncio.create_task(shop.charge(body, key="slow"))
        await asyncio.wait_for(provider.entered.wait(), 2)
        duplicate = await shop.charge(body, key="slow")
        assert duplicate.status_code == 409 and duplicate.headers["retry-after"] == "1"
        listed = await shop.client.get(API, headers=headers)
        assert listed.json()["items"][0]["status"] == "pending"
        provider.gate.set()
        done = await first
        assert done.status_code == 201 and done.json()["status"] == "succeeded"
        replay = await shop.charge(body, key="slow")
        assert replay.json()["id"] == done.json()["id"] and provider.calls == 1


async def test_a_retry_finishes_a_charge_whose_attempt_died(shop: Shop) -> None:
    user_id, headers = shop.customer()
    body = shop.charge_body(user_id, await shop.add_card(headers))
    first = (await shop.charge(body, key="crash")).json()
    database = shop.app.state.runtime.database
    async with database.transaction() as session:  # as if the process died mid-charge
        long_ago = datetime.now(UTC) - timedelta(hours=1)
        await session.execute(
            update(Payment)
            .where(Payment.id == first["id"])
            .values(status="pending", reason=None, attempt_at=long_ago)
        )
    retried = await shop.charge(body, key="crash")
    assert retried.status_code == 201
    assert retried.json()["id"] == first["id"] and retried.json()["status"] == "succeeded"
    assert await count(shop, SimulatedCharge) == 1  # the provider key made it the same charge
    assert len(await shop.outbox("payment.succeeded")) == 2  # at-least-once, same payment id
