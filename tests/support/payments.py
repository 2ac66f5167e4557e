"""Helpers of the payments service tests (and of orders' tests of a charge left unknown).

`started` runs the payments app on SQLite in a test's directory, without a broker
(events stay in the outbox) and with a 1 s provider deadline. `Shop` holds the
client with small helpers for the usual callers and calls; `GatedProvider` is a
fake provider whose charges wait until a test lets them through; `LateCapture` is
the simulated provider answering too late what it did (charged, refunded).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy import select

from mercato.chassis.data.database import Database
from mercato.payments.app import create_app
from mercato.payments.models import EVENTS
from mercato.payments.provider import (
    Amount,
    Card,
    ChargeResult,
    PaymentProvider,
    ProviderError,
    RefundResult,
)
from mercato.payments.settings import load_settings
from mercato.payments.simulated import SimulatedProvider
from tests.support.apps import running
from tests.support.tokens import TokenFactory

API = "/api/payments"
OK_CARD = "4242 4242 4242 4242"
DECLINED_CARD = "4000000000000002"
NO_FUNDS_CARD = "4000-0000-0000-9995"
TIMEOUT_CARD = "4000000000000119"
OTHER_CARD = "5555555555554444"
NEXT_YEAR = datetime.now(UTC).year + 1
LATE = 1.0  # how late LateCapture answers: past any deadline the tests set


def card(number: str = OK_CARD, **changes: Any) -> dict[str, Any]:
    """A card body for POST /methods."""
    return {"card_number": number, "exp_month": 12, "exp_year": NEXT_YEAR, "cvc": "123", **changes}


def usd(amount: int) -> dict[str, Any]:
    """A money body in US cents."""
    return {"amount": amount, "currency": "USD"}


@dataclass
class Shop:
    """A running payments app, its client and the callers tests use."""

    app: FastAPI
    client: httpx.AsyncClient
    tokens: TokenFactory
    service: dict[str, str] = field(default_factory=dict)

    def customer(self, user_id: str | None = None) -> tuple[str, dict[str, str]]:
        """A new (or the given) customer's id and headers."""
        user_id = user_id or str(uuid.uuid4())
        return user_id, self.tokens.headers(user_id, ["customer"])

    def admin(self) -> dict[str, str]:
        """An admin's headers."""
        return self.tokens.headers(str(uuid.uuid4()), ["admin"])

    async def add_card(self, headers: dict[str, str], number: str = OK_CARD) -> str:
        """Save a card for the caller; its method id."""
        response = await self.client.post(f"{API}/methods", json=card(number), headers=headers)
        assert response.status_code == 201, response.text
        return str(response.json()["id"])

    def charge_body(self, user_id: str, method_id: str, amount: int = 5000) -> dict[str, Any]:
        """A charge body for a new order."""
        return {
            "order_id": str(uuid.uuid4()),
            "user_id": user_id,
            "payment_method_id": method_id,
            "amount": usd(amount),
        }

    async def charge(
        self, body: dict[str, Any], key: str | None = None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST /charges as the orders service (or `headers`) under `key`."""
        sent = {
            **(self.service if headers is None else headers),
            "Idempotency-Key": key or str(uuid.uuid4()),
        }
        return await self.client.post(f"{API}/charges", json=body, headers=sent)

    async def paid(self, amount: int = 5000, number: str = OK_CARD) -> dict[str, Any]:
        """A new customer's payment made with a new card of `number`."""
        user_id, headers = self.customer()
        method_id = await self.add_card(headers, number)
        response = await self.charge(self.charge_body(user_id, method_id, amount))
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def refund(
        self, payment_id: str, body: dict[str, Any], key: str | None = None
    ) -> httpx.Response:
        """POST /{payment_id}/refunds as the orders service under `key`."""
        headers = {**self.service, "Idempotency-Key": key or str(uuid.uuid4())}
        return await self.client.post(f"{API}/{payment_id}/refunds", json=body, headers=headers)

    async def outbox(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The envelopes in the outbox, oldest first, of one type if given."""
        runtime = self.app.state.runtime
        statement = select(EVENTS.outbox.c.payload).order_by(EVENTS.outbox.c.created_at)
        if event_type is not None:
            statement = statement.where(EVENTS.outbox.c.type == event_type)
        async with runtime.database.session() as session:
            payloads = (await session.scalars(statement)).all()
        return [orjson.loads(payload) for payload in payloads]


@asynccontextmanager
async def started(
    tmp_path: Path,
    tokens: TokenFactory,
    provider: PaymentProvider | None = None,
    **overrides: object,
) -> AsyncIterator[Shop]:
    """The payments service on SQLite in `tmp_path`, no broker, a 1 s provider deadline.

    Short, so the timeout card's test is quick; not shorter, because a charge's own
    database write must fit in it on a loaded machine. `overrides` are more settings.
    """
    settings = load_settings(
        environ=os.environ,  # the default, named so that mypy knows no override is it
        data_dir=tmp_path,
        broker_url="",
        **{"provider_timeout_seconds": 1.0, **overrides},
    )
    app = create_app(settings, provider=None if provider is None else (lambda _: provider))
    service = tokens.headers("service:orders", ["service"], typ="service", aud="payments")
    async with running(app, tokens) as client:
        yield Shop(app=app, client=client, tokens=tokens, service=service)


class GatedProvider:
    """A fake provider whose charges approve only once `gate` is set; it counts them."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.entered = asyncio.Event()
        self.charges: dict[str, ChargeResult] = {}
        self.calls = 0

    async def tokenize(self, card: Card) -> str:
        """A token naming the card's last digits only."""
        return f"tok_fake_{card.number[-4:]}"

    async def charge(self, token: str, amount: Amount, idempotency_key: str) -> ChargeResult:
        """Wait for the gate, then approve once per key."""
        self.calls += 1
        self.entered.set()
        await self.gate.wait()
        if idempotency_key not in self.charges:
            self.charges[idempotency_key] = ChargeResult(
                approved=True, charge_id=f"ch_{len(self.charges)}"
            )
        return self.charges[idempotency_key]

    async def refund(self, charge_id: str, amount: Amount, idempotency_key: str) -> RefundResult:
        """Always refunds."""
        return RefundResult(refund_id=f"re_{idempotency_key}")

    async def lookup(self, idempotency_key: str) -> ChargeResult | None:
        """The charge approved under the key, if the gate let it through."""
        return self.charges.get(idempotency_key)


class LateCapture(SimulatedProvider):
    """The simulated provider, whose charges and refunds are made, then answered late."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.lookups_fail = False
        self.late_refunds = True

    async def charge(self, token: str, amount: Amount, idempotency_key: str) -> ChargeResult:
        """Capture as the simulated provider does, then answer past the deadline."""
        result = await super().charge(token, amount, idempotency_key)
        await asyncio.sleep(LATE)
        return result

    async def refund(self, charge_id: str, amount: Amount, idempotency_key: str) -> RefundResult:
        """Refund as the simulated provider does, then answer past the deadline (if late)."""
        result = await super().refund(charge_id, amount, idempotency_key)
        if self.late_refunds:
            await asyncio.sleep(LATE)
        return result

    async def lookup(self, idempotency_key: str) -> ChargeResult | None:
        """The simulated provider's lookup, unless the test says it is down."""
        if self.lookups_fail:
            raise ProviderError("provider_unavailable")
        return await super().lookup(idempotency_key)
