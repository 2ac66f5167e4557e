"""Service tests of the simulated provider on its own tables, and of provider failures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from mercato.payments.app import SPEC
from mercato.payments.provider import Amount, Card, ProviderError, RefundResult
from mercato.payments.simulated import SimulatedProvider
from tests.support.payments import API, GatedProvider, started, usd
from tests.support.tokens import TokenFactory


@pytest.fixture
async def provider(tmp_path: Path) -> AsyncIterator[SimulatedProvider]:
    """A simulated provider on a migrated payments database."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'payments.db'}")
    assert SPEC.migrations is not None
    await upgrade(database, SPEC.migrations, "payments")
    try:
        yield SimulatedProvider(database, hang_seconds=0.01)
    finally:
        await database.dispose()


def visa(number: str = "4242424242424242") -> Card:
    """A card as the service hands it over."""
    return Card(number=number, exp_month=12, exp_year=2099, cvc="123", brand="visa")


async def test_charges_and_refunds_are_idempotent(provider: SimulatedProvider) -> None:
    token = await provider.tokenize(visa())
    ten = Amount(amount=1000, currency="USD")
    first = await provider.charge(token, ten, "k1")
    assert first.approved and first.charge_id
    assert await provider.charge(token, ten, "k1") == first
    fresh = SimulatedProvider(provider.database)  # another process: the table decides
    assert await fresh.charge(token, ten, "k1") == first
    assert first.charge_id is not None
    part = await provider.refund(first.charge_id, Amount(amount=600, currency="USD"), "r1")
    assert await provider.refund(first.charge_id, Amount(amount=600, currency="USD"), "r1") == part
    rest = await provider.refund(first.charge_id, Amount(amount=400, currency="USD"), "r2")
    assert await provider.refund(first.charge_id, Amount(amount=400, currency="USD"), "r2") == rest
    with pytest.raises(ProviderError, match="refund_exceeds_charge"):
        await provider.refund(first.charge_id, Amount(amount=1, currency="USD"), "r3")
    with pytest.raises(ProviderError, match="unknown_charge"):
        await provider.refund("ch_nope", ten, "r4")


async def test_test_cards_decide_the_outcome(provider: SimulatedProvider) -> None:
    ten = Amount(amount=1000, currency="USD")
    declined = await provider.charge(await provider.tokenize(visa("4000000000000002")), ten, "a")
    assert (declined.approved, declined.decline_reason) == (False, "declined")
    poor = await provider.charge(await provider.tokenize(visa("4000000000009995")), ten, "b")
    assert poor.decline_reason == "insufficient_funds"
    with pytest.raises(ProviderError, match="provider_timeout"):  # after hang_seconds
        await provider.charge(await provider.tokenize(visa("4000000000000119")), ten, "c")
    with pytest.raises(ProviderError, match="unknown_token"):
        await provider.charge("tok_nope", ten, "d")


async def test_a_lookup_finds_the_charge_made_under_a_key(provider: SimulatedProvider) -> None:
    ten = Amount(amount=1000, currency="USD")
    made = await provider.charge(await provider.tokenize(visa()), ten, "made")
    assert await provider.lookup("made") == made
    declined = await provider.charge(await provider.tokenize(visa("4000000000000002")), ten, "no")
    assert await provider.lookup("no") == declined
    # The timeout card's charge never gets past hanging: the provider holds nothing under
    # its key, which is what reconciling it finds (nothing was captured).
    with pytest.raises(ProviderError, match="provider_timeout"):
        await provider.charge(await provider.tokenize(visa("4000000000000119")), ten, "hung")
    assert await provider.lookup("hung") is None
    assert await provider.lookup("never-asked") is None


class RefusingRefunds(GatedProvider):
    """A provider that charges at once and refuses the first `times` refunds."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.gate.set()
        self.times = times

    async def refund(self, charge_id: str, amount: Amount, idempotency_key: str) -> RefundResult:
        if self.times > 0:
            self.times -= 1
            raise ProviderError("refund_refused")
        return await super().refund(charge_id, amount, idempotency_key)


async def test_a_refused_refund_moves_nothing_and_is_retried_by_its_key(
    tmp_path: Path, tokens: TokenFactory
) -> None:
    async with started(tmp_path, tokens, provider=RefusingRefunds(times=2)) as shop:
        payment = await shop.paid(1000)
        url = f"{API}/{payment['id']}"
        for _ in range(2):
            response = await shop.refund(payment["id"], {"reason": "r"}, key="o:refund")
            assert response.status_code == 502
            assert "refund_refused" in response.json()["detail"]
            read = await shop.client.get(url, headers=shop.service)
            assert read.json()["refunded_amount"] == usd(0)
        assert await shop.outbox("payment.refunded") == []
        [failed] = (await shop.client.get(f"{url}/refunds", headers=shop.service)).json()["items"]
        assert failed["status"] == "failed" and response.json()["refund_id"] == failed["id"]
        retried = await shop.refund(payment["id"], {"reason": "r"}, key="o:refund")
        assert retried.status_code == 201 and retried.json()["id"] == failed["id"]
        assert retried.json()["status"] == "succeeded" and retried.json()["amount"] == usd(1000)
        read = await shop.client.get(url, headers=shop.service)
        assert read.json()["refunded_amount"] == usd(1000)
        assert len(await shop.outbox("payment.refunded")) == 1
