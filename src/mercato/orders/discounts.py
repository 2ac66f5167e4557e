"""Discount codes: the admin's CRUD, the code on a cart, and a code's use by a checkout.

A code is checked the same way everywhere (`check`): it must exist and be active,
be within its dates, have uses left (in all and for this customer), fit the cart's
currency and minimum, and find lines to discount. On the cart a code that no longer
fits is kept but shows no discount and says why (`discount_problem`); checkout
refuses it with a 422 naming `discount_code`. At checkout `redeem` runs in the
transaction that inserts the order: it locks the code (`discount_store.lock_discount`),
checks it again and records the use, so a code with one use left serves one of two
concurrent checkouts. A failed or cancelled order gives its use back (`release`, in the
saga's move that ends it). What a code takes off is `discount_rules.discount_amount`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.data.database import begin_write
from mercato.chassis.security.tokens import Principal
from mercato.chassis.web.errors import Conflict, Forbidden, NotFound, Unprocessable, field_error
from mercato.chassis.web.paging import Page, decode_time_cursor
from mercato.contracts.money import major_units
from mercato.contracts.products import ProductOut
from mercato.orders import discount_store, store
from mercato.orders.discount_rules import Kind, PricedLine, Rule, discount_amount
from mercato.orders.discount_schemas import DiscountIn, DiscountOut, DiscountPatch, discount_body
from mercato.orders.models import Discount
from mercato.orders.schemas import CartOut, MoneyOut

__all__ = [
    "Applied",
    "check",
    "create_discount",
    "drop_cart_code",
    "get_discount",
    "list_discounts",
    "normalize",
    "redeem",
    "release",
    "set_cart_code",
    "update_discount",
    "with_discount",
]

FIELD = "discount_code"


@dataclass(frozen=True, slots=True)
class Applied:
    """A code that applies, and what it takes off."""

    discount_id: str
    code: str
    amount: int


def normalize(code: str) -> str:
    """A code as stored: codes are case-insensitive."""
    return code.strip().upper()


def _refused(detail: str, kind: str) -> Unprocessable:
    return Unprocessable(detail, errors=[field_error(FIELD, detail, type=kind)])


def _admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("Only administrators manage discount codes.")


def _now() -> datetime:
    return datetime.now(UTC)


# -- the checks --------------------------------------------------------------------


def rule_of(discount: Discount) -> Rule:
    """The arithmetic rule of a stored discount."""
    return Rule(Kind(discount.kind), discount.value, frozenset(discount.categories))


def check(
    discount: Discount | None,
    *,
    code: str,
    lines: Sequence[PricedLine],
    currency: str,
    now: datetime,
    uses: tuple[int, int],
) -> int:
    """What the code takes off these lines; a 422 naming `discount_code` saying why not.

    `uses` is the code's live uses by everyone and by this customer.
    """
    if discount is None or not discount.active:
        raise _refused(f"The code {code} is not valid.", "unknown_code")
    if discount.starts_at is not None and now < discount.starts_at:
        raise _refused(
            f"The code {code} is valid from {discount.starts_at.isoformat()}.", "not_started"
        )
    if discount.ends_at is not None and now >= discount.ends_at:
        raise _refused(f"The code {code} expired at {discount.ends_at.isoformat()}.", "expired")
    everyone, mine = uses
    if discount.max_uses is not None and everyone >= discount.max_uses:
        raise _refused(f"The code {code} has been used up.", "used_up")
    limit = discount.max_uses_per_customer
    if limit is not None and mine >= limit:
        raise _refused(
            f"You have used the code {code} {mine} time(s), as often as it may be.",
            "used_up_by_customer",
        )
    if discount.currency is not None and discount.currency != currency:
        raise _refused(
            f"The code {code} is for orders in {discount.currency}; this one is in {currency}.",
            "currency_mismatch",
        )
    subtotal = sum(line.amount for line in lines)
    if subtotal < discount.min_order:
        raise _refused(
            f"The code {code} needs items worth at least "
            f"{major_units(discount.min_order, currency)} {currency}; they come to "
            f"{major_units(subtotal, currency)} {currency}.",
            "below_minimum",
        )
    amount = discount_amount(rule_of(discount), lines)
    if amount == 0:
        names = ", ".join(sorted(discount.categories)) or "any category"
        raise _refused(
            f"The code {code} applies to products in {names}; none in the order is.",
            "nothing_eligible",
        )
    return amount


async def applied(
    session: AsyncSession,
    *,
    code: str,
    user_id: str,
    lines: Sequence[PricedLine],
    currency: str,
    lock: bool = False,
) -> Applied:
    """The code as it applies to these lines now (locked until the transaction ends)."""
    code = normalize(code)
    find = discount_store.lock_discount if lock else discount_store.by_code
    discount = await find(session, code)
    uses = (0, 0)
    if discount is not None:
        uses = await discount_store.live_uses(session, discount_id=discount.id, user_id=user_id)
    amount = check(discount, code=code, lines=lines, currency=currency, now=_now(), uses=uses)
    assert discount is not None  # `check` refused it otherwise
    return Applied(discount_id=discount.id, code=code, amount=amount)


async def redeem(
    session: AsyncSession,
    *,
    expected: Applied,
    user_id: str,
    order_id: str,
    lines: Sequence[PricedLine],
    currency: str,
    now: datetime,
) -> None:
    """Use the code for an order, in the transaction inserting it: locked, checked again.

    409 when the code changed since the order was priced with it (a retry prices again).
    """
    found = await applied(
        session, code=expected.code, user_id=user_id, lines=lines, currency=currency, lock=True
    )
    if found != expected:
        raise Conflict("The discount code changed during checkout; check the cart and retry.")
    await discount_store.redeem(
        session,
        discount_id=found.discount_id,
        order_id=order_id,
        user_id=user_id,
        amount=found.amount,
        currency=currency,
        now=now,
    )


async def release(session: AsyncSession, *, order_id: str, now: datetime) -> bool:
    """Give back an order's use of its code (it failed or was cancelled)."""
    return await discount_store.release(session, order_id=order_id, now=now)


# -- the cart's code -----------------------------------------------------------------


def cart_lines(cart: CartOut, products: Mapping[str, ProductOut]) -> list[PricedLine]:
    """The cart's counted lines (sold, in its currency) with their products' categories."""
    return [
        PricedLine(item.line_total.amount, products[item.product_id].category)
        for item in cart.items
        if item.line_total is not None and not item.currency_mismatch
    ]


async def with_discount(
    session: AsyncSession, *, user_id: str, cart: CartOut, products: Mapping[str, ProductOut]
) -> CartOut:
    """The cart with its code's discount taken off the total (none when it does not apply)."""
    subtotal = cart.total
    cart.subtotal = subtotal
    code = await discount_store.cart_code(session, user_id)
    if code is None:
        return cart
    cart.discount_code = code
    cart.discount = MoneyOut(amount=0, currency=subtotal.currency)
    try:
        found = await applied(
            session,
            code=code,
            user_id=user_id,
            lines=cart_lines(cart, products),
            currency=subtotal.currency,
        )
    except Unprocessable as exc:
        cart.discount_problem = exc.detail
        return cart
    cart.discount = MoneyOut(amount=found.amount, currency=subtotal.currency)
    cart.total = MoneyOut(amount=subtotal.amount - found.amount, currency=subtotal.currency)
    return cart


async def set_cart_code(
    session: AsyncSession,
    *,
    user_id: str,
    code: str,
    cart: CartOut,
    products: Mapping[str, ProductOut],
) -> None:
    """Put a code on the cart once it applies to it (422 naming `discount_code` otherwise)."""
    if not cart.items:
        raise _refused("The cart is empty: add items before a discount code.", "empty_cart")
    found = await applied(
        session,
        code=code,
        user_id=user_id,
        lines=cart_lines(cart, products),
        currency=cart.total.currency,
    )
    await session.rollback()  # end the read; the write takes the cart's lock
    await begin_write(session)
    await store.lock_cart(session, user_id)
    await discount_store.set_cart_code(session, user_id=user_id, code=found.code, now=_now())
    await session.commit()


async def drop_cart_code(session: AsyncSession, *, user_id: str) -> None:
    """Take the code off the cart (none is fine)."""
    await begin_write(session)
    await discount_store.drop_cart_code(session, user_id)
    await session.commit()


# -- the admin's CRUD ------------------------------------------------------------------


def _rule_errors(values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What makes a discount's fields inconsistent, one error per field."""
    errors = []
    if values["kind"] == Kind.PERCENT and values["value"] > 100:
        errors.append(field_error("value", "a percentage is at most 100"))
    if values["kind"] == Kind.FIXED and values["currency"] is None:
        errors.append(field_error("currency", "a fixed amount needs its currency"))
    if values["min_order"] > 0 and values["currency"] is None:
        errors.append(field_error("currency", "a minimum order needs its currency"))
    starts, ends = values["starts_at"], values["ends_at"]
    if starts is not None and ends is not None and ends <= starts:
        errors.append(field_error("ends_at", "must be after starts_at"))
    return errors


def _checked(values: Mapping[str, Any]) -> None:
    errors = _rule_errors(values)
    if errors:
        raise Unprocessable("The discount's fields do not fit together.", errors=errors)


async def _body(session: AsyncSession, discount: Discount) -> DiscountOut:
    uses, _ = await discount_store.live_uses(session, discount_id=discount.id, user_id="")
    return discount_body(discount, uses)


async def create_discount(
    session: AsyncSession, *, principal: Principal, discount_in: DiscountIn
) -> DiscountOut:
    """A new code (admins only); 409 when the code exists in any case."""
    _admin(principal)
    values = discount_in.model_dump()
    _checked(values)
    now = _now()
    values["code"] = normalize(discount_in.code)
    discount = Discount(id=str(uuid.uuid4()), created_at=now, updated_at=now, **values)
    await begin_write(session)
    if await discount_store.by_code(session, values["code"]) is not None:
        raise Conflict(f"The code {values['code']} exists already.")
    session.add(discount)
    try:
        await session.commit()
    except IntegrityError as exc:  # created meanwhile by another request
        await session.rollback()
        raise Conflict(f"The code {values['code']} exists already.") from exc
    return discount_body(discount, 0)


async def get_discount(
    session: AsyncSession, *, principal: Principal, discount_id: str
) -> DiscountOut:
    """One discount with its uses (admins only)."""
    _admin(principal)
    discount = await discount_store.by_id(session, discount_id)
    if discount is None:
        raise NotFound(f"No discount {discount_id}.")
    return await _body(session, discount)


async def list_discounts(
    session: AsyncSession, *, principal: Principal, limit: int, cursor: str | None
) -> Page[DiscountOut]:
    """Every discount, newest first, keyset paged (admins only)."""
    _admin(principal)
    found = await discount_store.page(session, limit=limit, after=decode_time_cursor(cursor))
    counted = await discount_store.live_uses_of(session, [d.id for d in found.items])
    items = [discount_body(discount, counted[discount.id]) for discount in found.items]
    return Page[DiscountOut](items=items, next_cursor=found.next_cursor)


async def update_discount(
    session: AsyncSession, *, principal: Principal, discount_id: str, patch: DiscountPatch
) -> DiscountOut:
    """Change the fields sent (admins only); `{"active": false}` deactivates the code."""
    _admin(principal)
    await begin_write(session)
    discount = await discount_store.by_id(session, discount_id)
    if discount is None:
        raise NotFound(f"No discount {discount_id}.")
    changes = patch.model_dump(exclude_unset=True)
    for required in ("value", "min_order", "categories", "active"):
        if required in changes and changes[required] is None:
            raise Unprocessable(
                f"{required} cannot be null.", errors=[field_error(required, "cannot be null")]
            )
    current = {
        name: getattr(discount, name)
        for name in ("kind", "value", "currency", "min_order", "starts_at", "ends_at")
    }
    _checked({**current, **changes})
    for name, value in changes.items():
        setattr(discount, name, value)
    discount.updated_at = _now()
    await session.commit()
    return await _body(session, discount)
