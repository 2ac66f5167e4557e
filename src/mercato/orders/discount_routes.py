"""HTTP routes of discount codes (admin) and of the cart's code and shipping quotes.

Included before the orders' router, so that `/api/orders/discounts` is not read as
an order id by `GET /api/orders/{order_id}`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from mercato.chassis.security.tokens import CurrentUser, UserCaller
from mercato.chassis.web.dependencies import SessionDep, context_of
from mercato.chassis.web.errors import Unprocessable, field_error
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.openapi import problems
from mercato.chassis.web.paging import CursorQuery, page_size
from mercato.orders import cart, discounts
from mercato.orders.checkout_pricing import cart_quotes_for
from mercato.orders.context import OrdersContext
from mercato.orders.discount_schemas import (
    CartShippingOut,
    CodeIn,
    DiscountIn,
    DiscountOut,
    DiscountPage,
    DiscountPatch,
    QuoteOut,
)
from mercato.orders.schemas import CartOut

__all__ = ["router"]

router = APIRouter(prefix="/api/orders", tags=["discounts"], route_class=StrictJsonRoute)

ContextDep = Annotated[OrdersContext, Depends(context_of)]
DiscountId = Annotated[str, Path(max_length=36, description="The discount's id.")]
Country = Annotated[
    str, Query(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 code, e.g. `GB`.")
]
ADMIN = "The token is not an administrator's."
NO_DISCOUNT = "No such discount."
CODE = "The code does not apply (unknown, inactive, not yet or no longer valid, used up, "
CODE_422 = CODE + "another currency, below its minimum, nothing eligible): `discount_code`."
UPSTREAM = "The catalog or the shipping service answered with an error."


# -- the cart's code and shipping --------------------------------------------------


@router.put(
    "/cart/discount",
    summary="Put a discount code on your cart",
    responses=problems({422: CODE_422 + " Or an empty cart.", 502: UPSTREAM}, never=[404]),
)
async def set_cart_discount(
    code_in: CodeIn, principal: UserCaller, session: SessionDep, parts: ContextDep
) -> CartOut:
    """Check the code against the cart and keep it on the cart; answer the cart."""
    priced, products = await cart.priced_cart(
        session, catalog=parts.catalog, user_id=principal.subject
    )
    await discounts.set_cart_code(
        session, user_id=principal.subject, code=code_in.code, cart=priced, products=products
    )
    return await cart.view_cart(
        session, catalog=parts.catalog, user_id=principal.subject, known=products
    )


@router.delete(
    "/cart/discount",
    summary="Take the discount code off your cart",
    responses=problems({502: UPSTREAM}, never=[404]),  # no code is fine
)
async def remove_cart_discount(
    principal: UserCaller, session: SessionDep, parts: ContextDep
) -> CartOut:
    """Remove the cart's code (none is fine) and answer the cart."""
    await discounts.drop_cart_code(session, user_id=principal.subject)
    return await cart.view_cart(session, catalog=parts.catalog, user_id=principal.subject)


@router.get(
    "/cart/shipping",
    summary="How your cart can be shipped to a country",
    responses=problems({422: "An empty cart, or no country code.", 502: UPSTREAM}),
)
async def cart_shipping(
    country: Country, principal: UserCaller, session: SessionDep, parts: ContextDep
) -> CartShippingOut:
    """The shipping service's quotes for the cart's weight, currency and total."""
    priced, products = await cart.priced_cart(
        session, catalog=parts.catalog, user_id=principal.subject
    )
    shown = await discounts.with_discount(
        session, user_id=principal.subject, cart=priced, products=products
    )
    parcel = [
        (products[item.product_id], item.quantity)
        for item in shown.items
        if item.available and not item.currency_mismatch
    ]
    if not parcel:
        raise Unprocessable(
            "The cart is empty.", errors=[field_error("cart", "add items to see shipping")]
        )
    await session.rollback()  # no transaction waits on the shipping service
    quotes, weight = await cart_quotes_for(
        parts.shipping,
        country=country,
        currency=shown.total.currency,
        parcel=parcel,
        subtotal=shown.total.amount,
    )
    return CartShippingOut(
        items=[QuoteOut.of(quote) for quote in quotes],
        weight_grams=weight,
        charged=parts.shipping.enabled,
    )


# -- the admin's discounts -------------------------------------------------------------


@router.post(
    "/discounts",
    status_code=201,
    summary="Create a discount code (admin)",
    responses=problems(
        {403: ADMIN, 409: "The code exists (in any case).", 422: "Invalid or clashing fields."}
    ),
)
async def create_discount(
    discount_in: DiscountIn, principal: CurrentUser, session: SessionDep
) -> DiscountOut:
    """A new code; its code is stored upper-case."""
    return await discounts.create_discount(session, principal=principal, discount_in=discount_in)


@router.get(
    "/discounts",
    summary="Every discount code, newest first (admin)",
    responses=problems({403: ADMIN}),
)
async def list_discounts(
    principal: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, page_size(100)] = 20,
    cursor: CursorQuery = None,
) -> DiscountPage:
    """Discounts with their uses, keyset paged."""
    found = await discounts.list_discounts(session, principal=principal, limit=limit, cursor=cursor)
    return DiscountPage(items=found.items, next_cursor=found.next_cursor)


@router.get(
    "/discounts/{discount_id}",
    summary="One discount code (admin)",
    responses=problems({403: ADMIN, 404: NO_DISCOUNT}),
)
async def read_discount(
    discount_id: DiscountId, principal: CurrentUser, session: SessionDep
) -> DiscountOut:
    """A discount with its uses."""
    return await discounts.get_discount(session, principal=principal, discount_id=discount_id)


@router.patch(
    "/discounts/{discount_id}",
    summary="Change or deactivate a discount code (admin)",
    responses=problems({403: ADMIN, 404: NO_DISCOUNT, 422: "Invalid or clashing fields."}),
)
async def update_discount(
    discount_id: DiscountId, patch: DiscountPatch, principal: CurrentUser, session: SessionDep
) -> DiscountOut:
    """Change the fields sent; `{"active": false}` deactivates it."""
    return await discounts.update_discount(
        session, principal=principal, discount_id=discount_id, patch=patch
    )
