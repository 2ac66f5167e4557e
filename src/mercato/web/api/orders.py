"""Calls to orders: for now, what the header's cart badge needs (the cart pages add theirs)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from mercato.web.api.backend import Caller

__all__ = ["CartLine", "CartSummary", "cart"]


class CartLine(BaseModel):
    """One line of the cart: a product and how many."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    product_id: str
    quantity: int


class CartSummary(BaseModel):
    """The shopper's cart, as far as the badge needs it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: tuple[CartLine, ...] = ()

    @property
    def count(self) -> int:
        """How many items are in the cart, all lines together."""
        return sum(line.quantity for line in self.items)


async def cart(caller: Caller) -> CartSummary:
    """The signed-in shopper's cart."""
    return CartSummary.model_validate(await caller.call("orders", "GET", "/api/orders/cart"))
