"""HTTP routes of the orders service: thin, parse and delegate to `cart` and `service`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from mercato.chassis.security.tokens import CurrentUser, Principal, UserCaller
from mercato.chassis.web.dependencies import OutboxDep, SessionDep, context_of
from mercato.chassis.web.idempotency import IdempotencyKey, key_required
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.openapi import problems
from mercato.chassis.web.paging import CursorQuery, page_size
from mercato.orders import cart, service
from mercato.orders.context import OrdersContext
from mercato.orders.fulfilment import fulfilments
from mercato.orders.schemas import (
    CartOut,
    CheckoutIn,
    OrderOut,
    OrderPage,
    QuantityIn,
    order_body,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/orders", tags=["orders"], route_class=StrictJsonRoute)


ContextDep = Annotated[OrdersContext, Depends(context_of)]
Customer = UserCaller
ProductId = Annotated[str, Path(min_length=1, max_length=64, description="A catalog product id.")]
OrderId = Annotated[str, Path(description="The order's id.")]
CATALOG = "The catalog answered with an error this service cannot pass on."
NO_ORDER = "No such order, or not the caller's."
PRICED = problems({502: CATALOG})


async def _render(session: AsyncSession, order_id: str, principal: Principal) -> OrderOut:
    order = await service.get_order(session, principal=principal, order_id=order_id)
    goods = await fulfilments(session, [order])
    return order_body(
        order, await service.order_history(session, order_id=order.id), goods[order.id]
    )


# -- cart ----------------------------------------------------------------------


@router.get("/cart", summary="Your cart at current prices", responses=PRICED)
async def read_cart(principal: Customer, session: SessionDep, parts: ContextDep) -> CartOut:
    """The caller's cart, priced from the catalog now."""
    return await cart.view_cart(session, catalog=parts.catalog, user_id=principal.subject)


@router.put(
    "/cart/items/{product_id}",
    summary="Set how many of a product the cart holds",
    responses=problems(
        {
            409: "The cart changed while the product was being added; try again.",
            422: "A quantity below 1 or beyond what is available, no such product, another "
            "currency than the cart's, or a full cart: `errors` names the item.",
            502: CATALOG,
        },
        never=[404],  # an unknown product is a 422 naming the item
    ),
)
async def set_cart_item(
    product_id: ProductId,
    quantity_in: QuantityIn,
    *,
    principal: Customer,
    session: SessionDep,
    parts: ContextDep,
) -> CartOut:
    """Add a product or change its quantity; 422 naming the item when it cannot be."""
    return await cart.set_quantity(
        session,
        catalog=parts.catalog,
        user_id=principal.subject,
        product_id=product_id,
        quantity=quantity_in.quantity,
    )


@router.delete(
    "/cart/items/{product_id}",
    summary="Take a product out of the cart",
    responses=problems({502: CATALOG}, never=[404]),  # a product not in the cart is fine
)
async def remove_cart_item(
    product_id: ProductId, principal: Customer, session: SessionDep, parts: ContextDep
) -> CartOut:
    """Remove a product from the cart and answer the cart."""
    return await cart.remove_item(
        session, catalog=parts.catalog, user_id=principal.subject, product_id=product_id
    )


@router.delete("/cart", status_code=204, summary="Empty the cart")
async def empty_cart(principal: Customer, session: SessionDep) -> Response:
    """Empty the caller's cart."""
    await cart.clear_cart(session, user_id=principal.subject)
    return Response(status_code=204)


# -- orders --------------------------------------------------------------------


@router.post(
    "",
    status_code=201,
    summary="Place an order from the cart",
    openapi_extra=key_required("The same key and body on a retry answer the first order again."),
    responses=problems(
        {
            409: "A request with this key is still being handled, or the cart changed during "
            "checkout; retry.",
            422: "Invalid fields, an empty cart, products no longer sold or in another "
            "currency, a total beyond one payment, or a key first used with another body.",
            502: CATALOG,
        }
    ),
)
async def place_order(
    order_in: CheckoutIn,
    *,
    principal: Customer,
    session: SessionDep,
    parts: ContextDep,
    outbox: OutboxDep,
    key: IdempotencyKey,
) -> OrderOut:
    """Check the cart out; the answer carries the saga's end state when it was quick."""
    placement = await service.place_order(
        session,
        outbox=outbox,
        components=parts,
        user_id=principal.subject,
        key=key,
        order_in=order_in,
    )
    if placement.owner is not None:
        await parts.runner.checkout(placement.order, placement.owner)
    return await _render(session, placement.order.id, principal)


@router.get("", summary="Your orders, newest first")
async def list_orders(
    principal: Customer,
    session: SessionDep,
    limit: Annotated[int, page_size(100)] = 20,
    cursor: CursorQuery = None,
) -> OrderPage:
    """The caller's orders, keyset paged."""
    found = await service.list_orders(
        session, user_id=principal.subject, limit=limit, cursor=cursor
    )
    histories = await service.order_histories(
        session, order_ids=[order.id for order in found.items]
    )
    goods = await fulfilments(session, found.items)
    items = [order_body(order, histories[order.id], goods[order.id]) for order in found.items]
    return OrderPage(items=items, next_cursor=found.next_cursor)


@router.get(
    "/attention",
    summary="Orders waiting for an operator (admin)",
    responses=problems({403: "The token is not an administrator's."}),
)
async def list_attention(
    principal: CurrentUser,
    session: SessionDep,
    limit: Annotated[int, page_size(100)] = 20,
    cursor: CursorQuery = None,
) -> OrderPage:
    """Everyone's orders in `needs_attention`, newest first: why is in each one's history."""
    found = await service.list_attention(session, principal=principal, limit=limit, cursor=cursor)
    histories = await service.order_histories(
        session, order_ids=[order.id for order in found.items]
    )
    goods = await fulfilments(session, found.items)
    items = [order_body(order, histories[order.id], goods[order.id]) for order in found.items]
    return OrderPage(items=items, next_cursor=found.next_cursor)


@router.get(
    "/{order_id}", summary="One of your orders (admin: any)", responses=problems({404: NO_ORDER})
)
async def read_order(order_id: OrderId, principal: CurrentUser, session: SessionDep) -> OrderOut:
    """An order with its history; another user's order is 404."""
    return await _render(session, order_id, principal)


@router.post(
    "/{order_id}/cancel",
    summary="Cancel an order before it ships",
    responses=problems(
        {
            404: NO_ORDER,
            409: "The order has ended where nothing is left to cancel (failed), one of its "
            "shipments has left, or its checkout is in progress; retry.",
        }
    ),
)
async def cancel_order(
    order_id: OrderId, principal: CurrentUser, session: SessionDep, parts: ContextDep
) -> OrderOut:
    """Refund, release the stock and end `cancelled`; 409 for an order that failed."""
    await service.cancel_order(session, components=parts, principal=principal, order_id=order_id)
    return await _render(session, order_id, principal)


@router.post(
    "/{order_id}/resume",
    summary="Resume an order that needs attention (admin)",
    responses=problems(
        {
            403: "The token is not an administrator's.",
            404: NO_ORDER,
            409: "The order does not need attention, or its saga is busy; retry.",
        }
    ),
)
async def resume_order(
    order_id: OrderId, principal: CurrentUser, session: SessionDep, parts: ContextDep
) -> OrderOut:
    """Put the order back in the state it stalled in and drive its saga on; 409 otherwise."""
    await service.resume_order(session, components=parts, principal=principal, order_id=order_id)
    return await _render(session, order_id, principal)
