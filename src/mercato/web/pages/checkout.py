"""Checkout: `/checkout`, where the cart becomes an order.

The page shows the cart's lines and total, the shipping address (filled in from the
shopper's default address when they have one) and how to pay: a saved card or a new
one. Each rendering of the form carries a new idempotency key; a post of it goes
through `checkouts` (one checkout per form), saves the new card at payments if one
was typed, places the order at orders under the key, and goes to the order's page,
where its status follows the saga. Posting the same form again (a double click, a
reload, the back button) shows that same order: it never orders twice.

What goes wrong comes back on the form, what was typed kept (but the CVC): a field's
message beside it (422), a card the payment provider could not check beside the card
number (503), orders unavailable as a message on the form that says the cart is kept
and sending again is safe (503). An empty cart, or one holding products that can no
longer be bought, goes back to the cart page with a message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import orders, payments, users
from mercato.web.api.backend import ApiError, BackendDown, Caller
from mercato.web.checkout_form import (
    PROVIDER_DOWN,
    CheckoutInput,
    card_errors,
    kept_values,
    new_key,
    order_errors,
    read_checkout,
    valid_key,
)
from mercato.web.checkout_shipping import Delivery, delivery_for, refused_choice
from mercato.web.checkout_view import checkout_view
from mercato.web.checkouts import Checkouts, Claimed, Ordered
from mercato.web.forms import FormRefused, read_form
from mercato.web.order_view import order_url
from mercato.web.pages.cart import BLOCKED
from mercato.web.rendering import layout_of
from mercato.web.shopper import Shopper, ShopperDep

__all__ = ["router"]

log = logging.getLogger("mercato.web.checkout")
router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
EMPTY = "Your cart is empty: there is nothing to check out."
EXPIRED = "This checkout form has expired. Please check it and place the order again."
BUSY = "Your order is still being placed. It will appear in your orders in a moment."
UNCONFIRMED = (
    "We could not confirm your order just now. Your cart is kept: press Place order again "
    "(it will not order twice)."
)
KEY_USED = (
    "This checkout form was already used for an order. Check your orders before ordering again."
)


async def _address(caller: Caller, name: str) -> dict[str, str]:
    """The form's first values: the shopper's default address, else just their name."""
    try:
        profile = await users.me(caller)
    except (ApiError, BackendDown) as exc:
        log.info("no address to fill the checkout in with: %s", exc)
        return {"name": name}
    found = next((a for a in profile.addresses if a.is_default), None)
    found = found or (profile.addresses[0] if profile.addresses else None)
    if found is None:
        return {"name": name}
    return {
        "name": found.name,
        "line1": found.line1,
        "city": found.city,
        "postal_code": found.postal_code or "",
        "country": found.country,
    }


async def _render(
    shopper: Shopper,
    caller: Caller,
    *,
    key: str,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
    status: int = 200,
) -> Response:
    """The checkout page; on a form shown again, a part that is down is left out of it."""
    again = errors is not None or message is not None
    cart: orders.Cart | None = None
    saved: Sequence[payments.PaymentMethod] = ()
    delivery: Delivery | None = None
    found = await asyncio.gather(
        orders.full_cart(caller),
        payments.methods(caller),
        delivery_for(caller, values.get("country", "")),
        return_exceptions=True,
    )
    for part in found:
        if isinstance(part, BaseException) and not (again and isinstance(part, BackendDown)):
            raise part
        if isinstance(part, orders.Cart):
            cart = part
        elif isinstance(part, tuple):
            saved = part
        elif isinstance(part, Delivery):
            delivery = part
    layout = await layout_of(shopper, csrf=True)
    view = checkout_view(
        cart,
        saved,
        csrf_token=layout.csrf_token,
        key=key,
        values=values,
        errors=errors,
        message=message,
        delivery=delivery,
    )
    return shopper.ctx.templates.page(
        "shop/checkout.html", layout=layout, title="Checkout", view=view, status=status
    )


async def _cart_ready(shopper: Shopper, cart: orders.Cart) -> Response | None:
    """The way back to the cart when it cannot be checked out, with why."""
    if not cart.items:
        await shopper.flash(EMPTY)
    elif any(not i.available or i.currency_mismatch for i in cart.items):
        await shopper.flash(BLOCKED)
    else:
        return None
    return RedirectResponse("/cart", status_code=303)


@router.get("/checkout")
async def checkout_page(shopper: ShopperDep) -> Response:
    """The checkout form, with a new idempotency key."""
    caller = await shopper.customer()
    back = await _cart_ready(shopper, await orders.full_cart(caller))
    if back is not None:
        return back
    values = await _address(caller, shopper.name)
    return await _render(shopper, caller, key=new_key(), values=values)


@router.post("/checkout")
async def place_order(shopper: ShopperDep) -> Response:
    """Save the new card if one was typed, place the order, and show it."""
    caller = await shopper.customer()
    try:
        posted = await read_form(shopper)
    except FormRefused as refused:
        return await _render(
            shopper, caller, key=new_key(), values={}, message=refused.message, status=403
        )
    values = {**kept_values(posted), "payment": posted.stripped("payment")}
    key = posted.stripped("key")
    if not valid_key(key):
        return await _render(
            shopper, caller, key=new_key(), values=values, message=EXPIRED, status=422
        )
    saved = await payments.methods(caller)
    checkout, errors = read_checkout(posted, saved, today=datetime.now(UTC).date())
    if checkout is None:
        return await _render(shopper, caller, key=key, values=values, errors=errors, status=422)
    attempt = Attempt(shopper, caller, checkout, values, posted.stripped("quoted_country"))
    outcome = await attempt.claim()
    if isinstance(outcome, Ordered):
        return RedirectResponse(order_url(outcome.order_id), status_code=303)
    if outcome is None:
        await shopper.flash(BUSY)
        return RedirectResponse("/orders", status_code=303)
    try:
        return await attempt.go_on(outcome, saved)
    except BaseException:
        await attempt.release()
        raise


class Attempt:
    """One post of the checkout form, under the claim of its key (`checkouts`)."""

    def __init__(
        self,
        shopper: Shopper,
        caller: Caller,
        checkout: CheckoutInput,
        values: dict[str, str],
        quoted_country: str,
    ) -> None:
        self.shopper = shopper
        self.quoted_country = quoted_country  # what the delivery options were priced for
        self.caller = caller
        self.checkout = checkout
        self.values = values
        self.user_id = str(shopper.user_id)
        self.checkouts = Checkouts(shopper.request.app.state.runtime.database)
        self.timeout = shopper.ctx.settings.checkout_timeout_seconds

    async def claim(self) -> Claimed | Ordered | None:
        """Go on with this form's checkout, or its order, waiting for another post of it."""
        wait = self.timeout + 5  # another post of the form may be placing the order
        return await self.checkouts.claim_or_wait(self.user_id, self.checkout.key, seconds=wait)

    async def release(self) -> None:
        """Give the claim up: the form comes back, and its next post goes on."""
        await self.checkouts.release(self.user_id, self.checkout.key)

    async def again(
        self,
        *,
        errors: Mapping[str, str] | None = None,
        message: str | None = None,
        status: int,
        key: str | None = None,
    ) -> Response:
        """The claim released, the form again with why."""
        await self.release()
        return await _render(
            self.shopper,
            self.caller,
            key=key or self.checkout.key,
            values=self.values,
            errors=errors,
            message=message,
            status=status,
        )

    async def go_on(self, claimed: Claimed, saved: Sequence[payments.PaymentMethod]) -> Response:
        """The delivery checked, the card (saved now, or by an earlier post of the form),
        then the order."""
        delivery = await delivery_for(self.caller, self.checkout.address["country"])
        errors, choose = refused_choice(
            delivery, quoted_country=self.quoted_country, chosen=self.checkout.shipping_method
        )
        if errors or choose:  # a country changed is a step of the form, not a mistake
            return await self.again(errors=errors, message=choose, status=422 if errors else 200)
        method_id = self.checkout.method_id or _saved_before(claimed, saved, self.checkout)
        if method_id is None:
            card = await self._save_card()
            if isinstance(card, Response):
                return card
            method_id = card.id
        return await self._order(method_id)

    async def _save_card(self) -> payments.PaymentMethod | Response:
        """Save the new card at payments (and remember it for this form), or the form."""
        card = self.checkout.card
        assert card is not None
        try:
            method = await payments.add_card(
                self.caller,
                card_number=card.number,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
                cvc=card.cvc,
            )
        except ApiError as exc:
            if exc.status not in (409, 422):
                raise
            return await self.again(errors=card_errors(exc), status=422)
        except BackendDown as exc:
            log.warning("a new card could not be saved: %s", exc)
            return await self.again(errors={"card_number": PROVIDER_DOWN}, status=503)
        await self.checkouts.saved_card(self.user_id, self.checkout.key, method.id)
        # Shown again (the order refused), the form offers the card as a saved one.
        self.values = {**self.values, "payment": method.id, "card_number": "", "expiry": ""}
        return method

    async def _order(self, method_id: str) -> Response:
        """Place the order under the form's key; its page, or the form with why not."""
        try:
            order = await _placed(self.caller, self.checkout, method_id, self.timeout)
        except BackendDown as exc:
            log.warning("an order could not be confirmed: %s", exc)
            return await self.again(message=UNCONFIRMED, status=503)
        except ApiError as exc:
            if exc.status not in (409, 422):
                raise
            return await self._refused(exc)
        await self.checkouts.ordered(self.user_id, self.checkout.key, order.id)
        return RedirectResponse(order_url(order.id), status_code=303)

    async def _refused(self, exc: ApiError) -> Response:
        """Orders refused the checkout: back to the cart, or the form with why."""
        if exc.field_message("cart") or exc.field_message("items"):
            await self.release()
            await self.shopper.flash(EMPTY if exc.field_message("cart") else exc.detail)
            return RedirectResponse("/cart", status_code=303)
        if exc.field_message("Idempotency-Key"):
            return await self.again(message=KEY_USED, status=422, key=new_key())
        errors, message = order_errors(exc)
        return await self.again(errors=errors, message=message, status=422)


def _saved_before(
    claimed: Claimed, saved: Sequence[payments.PaymentMethod], checkout: CheckoutInput
) -> str | None:
    """The card an earlier post of this form saved, if it is the one typed now."""
    card = checkout.card
    for method in saved:
        if (
            card is not None
            and method.id == claimed.method_id
            and (method.last4, method.exp_month, method.exp_year)
            == (card.last4, card.exp_month, card.exp_year)
        ):
            return method.id
    return None


async def _placed(
    caller: Caller, checkout: CheckoutInput, method_id: str, timeout: float
) -> orders.Order:
    """`orders.place_order`, trying again while orders says the key's first try runs."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            return await orders.place_order(
                caller,
                key=checkout.key,
                payment_method_id=method_id,
                shipping_address=checkout.address,
                shipping_method=checkout.shipping_method or None,
                timeout=timeout,
            )
        except ApiError as exc:
            if exc.status != 409 or loop.time() >= deadline:
                raise
            await asyncio.sleep(_pause(exc.retry_after))


def _pause(retry_after: str | None) -> float:
    """How long to wait before asking orders again (its Retry-After, at most a second)."""
    try:
        return min(1.0, max(0.1, float(retry_after or 0.5)))
    except ValueError:  # an HTTP date: not worth parsing for a second's wait
        return 0.5
