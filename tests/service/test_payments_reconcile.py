"""Service tests of charges and refunds whose provider did not answer in time.

A provider timeout says nothing about the money: the provider may have captured the
charge and only its answer been late. So such a charge is `unknown` (no event) until
payments looks it up at the provider by its key: the timeout card's provider holds
no charge (`failed`, `provider_timeout`); `LateCapture`, a simulated provider whose
charges are captured and only then answered too late, holds one (`succeeded`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from mercato.contracts.events import PaymentFailed, PaymentSucceeded
from mercato.payments.provider import (
    ProviderClient,
)
from mercato.payments.routes import REPLAYED
from mercato.payments.simulated import SimulatedRefund
from tests.support.payments import (
    API,
    OK_CARD,
    TIMEOUT_CARD,
    LateCapture,
    Shop,
    started,
)
from tests.support.tokens import TokenFactory

DEADLINE = 0.5  # the provider's deadline in these tests
LEASE = 2.0  # how old an unknown charge's attempt must be before it is looked up


def use(shop: Shop, provider: LateCapture) -> None:
    """Make the running app's provider `provider`, behind the same deadline."""
    client = shop.app.state.runtime.context.provider
    assert isinstance(client, ProviderClient)
    client.provider = provider


async def wait_until(probe: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """Poll `probe` until it holds (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await probe():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def charge_with(shop: Shop, number: str) -> tuple[dict[str, Any], str, dict[str, str]]:
    """A new customer's charge with a card of `number`: the body, its key, their headers."""
    user_id, headers = shop.customer()
    body = shop.charge_body(user_id, await shop.add_card(headers, number), 1999)
    return body, str(uuid.uuid4()), headers


async def test_a_provider_timeout_is_unknown_until_the_provider_is_asked(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with started(
        tmp_path,
        tokens,
        provider_timeout_seconds=DEADLINE,
        charge_lease_seconds=LEASE,
        reconcile_interval_seconds=3600.0,
    ) as shop:
        body, key, headers = await charge_with(shop, TIMEOUT_CARD)
        first = await shop.charge(body, key=key)
        assert first.status_code == 201, first.text
        assert (first.json()["status"], first.json()["reason"]) == ("unknown", "provider_timeout")
        assert await shop.outbox() == []  # neither succeeded nor failed: no event yet

        soon = await shop.charge(body, key=key)  # within the lease: the provider is not asked
        assert soon.json()["status"] == "unknown" and soon.headers[REPLAYED] == "true"

        await asyncio.sleep(LEASE)
        settled = await shop.charge(body, key=key)
        assert settled.json()["id"] == first.json()["id"]
        assert (settled.json()["status"], settled.json()["reason"]) == (
            "failed",
            "provider_timeout",
        )
        [event] = await shop.outbox()
        assert event["type"] == "payment.failed"
        assert PaymentFailed.model_validate(event["data"]).reason == "provider_timeout"
        read = await shop.client.get(f"{API}/{first.json()['id']}", headers=headers)
        assert read.json()["status"] == "failed"


async def test_a_charge_captured_but_answered_late_is_found_succeeded(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with started(
        tmp_path,
        tokens,
        provider_timeout_seconds=DEADLINE,
        charge_lease_seconds=LEASE,
        reconcile_interval_seconds=3600.0,
    ) as shop:
        runtime = shop.app.state.runtime
        provider = LateCapture(runtime.database)
        use(shop, provider)
        body, key, headers = await charge_with(shop, OK_CARD)

        first = await shop.charge(body, key=key)
        assert first.json()["status"] == "unknown"  # it did go through: never say failed
        await asyncio.sleep(LEASE)
        settled = (await shop.charge(body, key=key)).json()
        assert settled["status"] == "succeeded" and settled["reason"] is None
        [event] = await shop.outbox()
        assert event["type"] == "payment.succeeded"
        assert PaymentSucceeded.model_validate(event["data"]).payment_id == settled["id"]

        # The charge the provider made is the payment's: refunding it reaches it.
        refund = await shop.refund(settled["id"], {"reason": "test"}, key="r1")
        assert refund.status_code == 504, refund.text  # LateCapture answers refunds late too
        pending = (await shop.client.get(f"{API}/{settled['id']}/refunds", headers=headers)).json()
        assert [r["status"] for r in pending["items"]] == ["pending"]
        payment = (await shop.client.get(f"{API}/{settled['id']}", headers=headers)).json()
        assert payment["refunded_amount"]["amount"] == 1999  # still reserved for the refund

        provider.late_refunds = False
        await asyncio.sleep(LEASE)
        again = await shop.refund(settled["id"], {"reason": "test"}, key="r1")
        assert again.status_code == 201, again.text
        assert again.json()["status"] == "succeeded"
        async with runtime.database.session() as session:
            made = await session.scalar(select(func.count()).select_from(SimulatedRefund))
        assert made == 1  # the same provider key: the provider refunded once


async def test_a_failed_lookup_leaves_the_charge_unknown(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with started(
        tmp_path,
        tokens,
        provider_timeout_seconds=DEADLINE,
        charge_lease_seconds=LEASE,
        reconcile_interval_seconds=3600.0,
    ) as shop:
        runtime = shop.app.state.runtime
        provider = LateCapture(runtime.database)
        provider.lookups_fail = True
        use(shop, provider)
        body, key, _ = await charge_with(shop, OK_CARD)
        assert (await shop.charge(body, key=key)).json()["status"] == "unknown"
        await asyncio.sleep(LEASE)
        assert (await shop.charge(body, key=key)).json()["status"] == "unknown"
        assert await shop.outbox() == []

        provider.lookups_fail = False
        await asyncio.sleep(LEASE)  # the failed lookup took the attempt: wait out its lease
        assert (await shop.charge(body, key=key)).json()["status"] == "succeeded"


async def test_the_reconciler_settles_unknown_charges_nobody_asks_about(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with started(
        tmp_path,
        tokens,
        provider_timeout_seconds=DEADLINE,
        charge_lease_seconds=LEASE,
        reconcile_interval_seconds=0.2,
    ) as shop:
        runtime = shop.app.state.runtime
        assert [task.get_name() for task in runtime.tasks.running] == ["payments-reconciler"]
        body, key, headers = await charge_with(shop, TIMEOUT_CARD)
        payment = (await shop.charge(body, key=key)).json()
        assert payment["status"] == "unknown"

        async def failed() -> bool:
            read = await shop.client.get(f"{API}/{payment['id']}", headers=headers)
            return bool(read.json()["status"] == "failed")

        await wait_until(failed, timeout=LEASE + 10.0)
        assert [e["type"] for e in await shop.outbox()] == ["payment.failed"]
