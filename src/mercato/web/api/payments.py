"""Calls to payments: the shopper's saved cards, and saving a new one.

Payments keeps only a card's brand, last four digits and expiry (the number goes to
the provider for a token, and nowhere else): what the checkout shows as the shopper's
saved cards. Saving a card answers 422 naming the bad field (`card_number`,
`exp_month`, `exp_year`, `cvc`), 409 when the shopper has as many cards as allowed,
and 502/504 when the provider refused or did not answer (`BackendDown` here).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from mercato.web.api.backend import Caller

__all__ = ["PaymentMethod", "add_card", "methods"]


class PaymentMethod(BaseModel):
    """A saved card: what a shopper recognises it by."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


async def methods(caller: Caller) -> tuple[PaymentMethod, ...]:
    """The shopper's saved cards, newest first."""
    body = await caller.call("payments", "GET", "/api/payments/methods")
    return tuple(PaymentMethod.model_validate(item) for item in body.get("items", ()))


async def add_card(
    caller: Caller, *, card_number: str, exp_month: int, exp_year: int, cvc: str
) -> PaymentMethod:
    """Save a card (422: a bad field; 409: too many cards)."""
    body = {"card_number": card_number, "exp_month": exp_month, "exp_year": exp_year, "cvc": cvc}
    answer = await caller.call("payments", "POST", "/api/payments/methods", json=body)
    return PaymentMethod.model_validate(answer)
