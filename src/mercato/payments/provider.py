"""The payment provider interface, and the deadline every call to it runs under.

A provider tokenizes cards (the service keeps only the token), charges a token and
refunds a charge, both under the caller's idempotency key: a provider that sees the
same key twice answers the first result again and never moves money twice. A
decline is an answer (`ChargeResult.approved` false), not an error; `ProviderError`
means the provider refused the request itself. `ProviderClient` wraps a provider
with the configured deadline: a call that takes longer raises `ProviderTimeout`.

A timeout says nothing about the money: the provider may have captured the charge
and only its answer been late. So a provider also looks a charge up by the
idempotency key it was asked under (`lookup`), which is how payments reconciles a
charge whose outcome it does not know: the charge found (approved or declined), or
None when the provider holds no charge under that key, so nothing was captured. A
provider that cannot tell must raise instead of answering None.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

__all__ = [
    "Amount",
    "Card",
    "ChargeResult",
    "PaymentProvider",
    "ProviderClient",
    "ProviderError",
    "ProviderTimeout",
    "RefundResult",
]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Card:
    """A validated card on its way to the provider; its number and CVC never print."""

    number: str = field(repr=False)
    exp_month: int
    exp_year: int
    cvc: str = field(repr=False)
    brand: str


@dataclass(frozen=True, slots=True)
class Amount:
    """Money in minor units of an ISO 4217 currency."""

    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """The provider's answer to a charge: approved with a charge id, or declined."""

    approved: bool
    charge_id: str | None = None
    decline_reason: str | None = None


@dataclass(frozen=True, slots=True)
class RefundResult:
    """The provider's answer to a refund."""

    refund_id: str


class ProviderError(Exception):
    """The provider refused the request itself (not a decline)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderTimeout(ProviderError):
    """The provider did not answer within the deadline."""

    def __init__(self) -> None:
        super().__init__("provider_timeout")


class PaymentProvider(Protocol):
    """What the payments service needs from a card payment provider."""

    async def tokenize(self, card: Card) -> str:
        """A token that stands for `card` in later charges."""
        ...

    async def charge(self, token: str, amount: Amount, idempotency_key: str) -> ChargeResult:
        """Charge the card behind `token`; the same key answers the first result again."""
        ...

    async def refund(self, charge_id: str, amount: Amount, idempotency_key: str) -> RefundResult:
        """Give back part or all of a charge; the same key answers the first result again."""
        ...

    async def lookup(self, idempotency_key: str) -> ChargeResult | None:
        """The charge made under `idempotency_key`, or None when there is none."""
        ...


class ProviderClient:
    """A PaymentProvider whose every call must answer within `timeout` seconds."""

    def __init__(self, provider: PaymentProvider, *, timeout: float) -> None:
        self.provider = provider
        self.timeout = timeout

    async def _bounded(self, call: Awaitable[T]) -> T:
        """Await `call`, raising ProviderTimeout past the deadline."""
        try:
            return await asyncio.wait_for(call, timeout=self.timeout)
        except TimeoutError:
            raise ProviderTimeout() from None

    async def tokenize(self, card: Card) -> str:
        """The provider's token for `card`."""
        return await self._bounded(self.provider.tokenize(card))

    async def charge(self, token: str, amount: Amount, idempotency_key: str) -> ChargeResult:
        """Charge `token` under `idempotency_key`."""
        return await self._bounded(self.provider.charge(token, amount, idempotency_key))

    async def refund(self, charge_id: str, amount: Amount, idempotency_key: str) -> RefundResult:
        """Refund `amount` of `charge_id` under `idempotency_key`."""
        return await self._bounded(self.provider.refund(charge_id, amount, idempotency_key))

    async def lookup(self, idempotency_key: str) -> ChargeResult | None:
        """The charge made under `idempotency_key`, or None when the provider has none."""
        return await self._bounded(self.provider.lookup(idempotency_key))
