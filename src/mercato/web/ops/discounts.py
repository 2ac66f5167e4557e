"""`/ops/discounts`: the discount codes with their uses, a new code, a code deactivated.

    GET  /ops/discounts?cursor=            the codes, newest first, with how many orders
                                           use each now; the form of a new code
    POST /ops/discounts                    create a code (the orders service's admin API)
    POST /ops/discounts/{id}/deactivate    the code refused from now on

The form's fields are text as typed; `discount_fields` reads them into what orders
takes (a fixed value or a minimum `4.50` in minor units of the currency, a validity
window typed as UTC, categories separated by commas) and names the field of each
mistake. What orders refuses comes back beside its field: a code another discount
has (409), fields that do not fit together (422: a percentage over 100, `fixed`
without a currency, an end before the start), the form keeping what was typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import ops_discounts
from mercato.web.api.backend import ApiError, BackendDown
from mercato.web.forms import Field, FormView, Posted, form_view
from mercato.web.money import decimals, format_amount
from mercato.web.ops.access import admin, admin_form, refused_by_service
from mercato.web.ops.nav import ops_page
from mercato.web.ops.orders import when
from mercato.web.ops.status_lists import field_errors
from mercato.web.shopper import Shopper, ShopperDep

__all__ = ["CODE_TAKEN", "FIELDS", "DiscountRow", "DiscountsView", "discount_fields", "router"]

router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
CODE_TAKEN = "Another discount has this code."
KINDS = ("percent", "fixed")
FIELDS = (
    Field("code", "Code", "text", "off", max_length=40, hint="3 to 40 letters, digits, - or _."),
    Field("kind", "Kind", hint="percent: a share of the items; fixed: an amount off them."),
    Field("value", "Value", "text", "off", max_length=20, hint="Percent: 10; fixed: 5.00."),
    Field("currency", "Currency", "text", "off", required=False, max_length=3),
    Field("min_order", "Minimum order", "text", "off", required=False, max_length=20),
    Field("starts_at", "Valid from (UTC)", "datetime-local", required=False),
    Field("ends_at", "Valid until (UTC)", "datetime-local", required=False),
    Field("max_uses", "Uses in all", "number", "off", required=False, max_length=10),
    Field("max_uses_per_customer", "Uses per customer", "number", "off", False, 10),
    Field("categories", "Categories", required=False, max_length=1600, hint="Slugs, by commas."),
)


@dataclass(frozen=True, slots=True)
class DiscountRow:
    """A code as the page lists it."""

    id: str
    code: str
    off: str
    conditions: tuple[str, ...]
    uses: str
    active: bool
    created: str
    deactivate: FormView | None


@dataclass(frozen=True, slots=True)
class DiscountsView:
    """The discounts page: the codes and the form of a new one."""

    rows: tuple[DiscountRow, ...] | None  # None: orders is down
    next_href: str | None
    form: FormView
    message: str | None = None


def _amount(text: str, currency: str) -> int | None:
    """Minor units of `text` typed in the currency's units (None: not an amount)."""
    places = decimals(currency) if len(currency) == 3 else 2
    try:
        value = Decimal(text.replace(",", ""))
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal(1).scaleb(-places)):
        return None
    return int(value.scaleb(places))


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _whole(posted: Posted, name: str, errors: dict[str, str], label: str) -> int | None:
    text = posted.stripped(name)
    if not text:
        return None
    if not text.isdigit() or len(text) > 10:
        errors[name] = f"{label} must be a whole number."
        return None
    return int(text)


def discount_fields(posted: Posted) -> tuple[dict[str, Any], dict[str, str]]:
    """What orders takes from the form, and the mistakes by field."""
    errors = {
        f.name: f"{f.label} is required."
        for f in FIELDS
        if f.required and not posted.stripped(f.name)
    }
    kind = posted.stripped("kind")
    if kind and kind not in KINDS:
        errors["kind"] = "Kind must be percent or fixed."
    currency = posted.stripped("currency").upper() or None
    body: dict[str, Any] = {"code": posted.stripped("code"), "kind": kind, "currency": currency}
    value = posted.stripped("value")
    if value and kind == "fixed":
        body["value"] = _amount(value, currency or "")
        if body["value"] is None:
            errors["value"] = "Value must be an amount such as 5.00."
    elif value:
        body["value"] = int(value) if value.isdigit() and len(value) < 10 else None
        if body["value"] is None:
            errors["value"] = "Value must be a whole percentage such as 10."
    if posted.stripped("min_order"):
        body["min_order"] = _amount(posted.stripped("min_order"), currency or "")
        if body["min_order"] is None:
            errors["min_order"] = "Minimum order must be an amount such as 20.00."
    for name, label in (("starts_at", "Valid from"), ("ends_at", "Valid until")):
        if posted.stripped(name):
            moment = _moment(posted.stripped(name))
            if moment is None:
                errors[name] = f"{label} must be a date and time."
            body[name] = moment.isoformat() if moment else None
    body["max_uses"] = _whole(posted, "max_uses", errors, "Uses in all")
    body["max_uses_per_customer"] = _whole(
        posted, "max_uses_per_customer", errors, "Uses per customer"
    )
    body["categories"] = [c.strip() for c in posted["categories"].split(",") if c.strip()]
    return body, errors


def _row(discount: ops_discounts.Discount, csrf: str) -> DiscountRow:
    if discount.kind == "percent":
        off = f"{discount.value} %"
    else:
        off = format_amount(discount.value, discount.currency or "USD")
    conditions = []
    if discount.min_order:
        conditions.append(f"from {format_amount(discount.min_order, discount.currency or 'USD')}")
    if discount.starts_at:
        conditions.append(f"from {when(discount.starts_at)}")
    if discount.ends_at:
        conditions.append(f"until {when(discount.ends_at)}")
    if discount.max_uses_per_customer:
        conditions.append(f"{discount.max_uses_per_customer} per customer")
    if discount.categories:
        conditions.append("only " + ", ".join(discount.categories))
    limit = f" of {discount.max_uses}" if discount.max_uses else ""
    deactivate = None
    if discount.active:
        deactivate = form_view(
            f"deactivate-{discount.id}",
            (),
            action=f"/ops/discounts/{discount.id}/deactivate",
            submit="Deactivate",
            csrf_token=csrf,
        )
    return DiscountRow(
        id=discount.id,
        code=discount.code,
        off=off,
        conditions=tuple(conditions),
        uses=f"{discount.uses}{limit}",
        active=discount.active,
        created=when(discount.created_at),
        deactivate=deactivate,
    )


def _form(
    csrf: str,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
) -> FormView:
    return form_view(
        "discount",
        FIELDS,
        action="/ops/discounts",
        submit="Create code",
        csrf_token=csrf,
        values=values,
        errors=errors,
        message=message,
    )


async def _page(
    shopper: Shopper,
    cursor: str | None,
    form: FormView | None = None,
    code: int = 200,
    said: str | None = None,
) -> Response:
    caller = await shopper.caller()
    csrf = await shopper.csrf_token()
    rows: tuple[DiscountRow, ...] | None
    next_href = message = None
    try:
        async with refused_by_service():
            page = await ops_discounts.discounts(caller, cursor=cursor)
        rows = tuple(_row(d, csrf) for d in page.items)
        if page.next_cursor:
            next_href = "/ops/discounts?" + urlencode({"cursor": page.next_cursor})
    except BackendDown as exc:
        rows, message = None, f"{exc.part} is unavailable right now: no code can be listed."
    except ApiError as exc:
        if exc.status != 422:
            raise
        rows, message = (), "This page of codes cannot be read: start from the first."
    form = form or _form(csrf, {"kind": "percent"})
    view = DiscountsView(rows, next_href, form, said or message)
    return await ops_page(shopper, "ops/discounts.html", "Discounts", view, status=code)


@router.get("/ops/discounts")
async def discounts_page(request: Request, shopper: ShopperDep) -> Response:
    """The codes, newest first, and the form of a new one."""
    await admin(shopper)
    return await _page(shopper, request.query_params.get("cursor", "")[:500] or None)


@router.post("/ops/discounts")
async def create_discount(shopper: ShopperDep) -> Response:
    """Create the code; the list with a flash, or the form with what to fix."""
    caller, posted = await admin_form(shopper)
    body, errors = discount_fields(posted)
    message, status = None, 422
    if not errors:
        try:
            async with refused_by_service():
                made = await ops_discounts.create(caller, body)
        except ApiError as exc:
            status = exc.status
            if exc.status == 409:
                errors = {"code": CODE_TAKEN}
            elif exc.status == 422:
                errors = field_errors(exc, FIELDS)
            message = None if errors else exc.detail
        else:
            await shopper.flash(f"The code {made.code} was created.")
            return RedirectResponse("/ops/discounts", status_code=303)
    values = {f.name: posted.stripped(f.name) for f in FIELDS}
    form = _form(shopper.record_csrf(), values, errors, message)
    return await _page(shopper, None, form, status)


@router.post("/ops/discounts/{discount_id}/deactivate")
async def deactivate_discount(discount_id: str, shopper: ShopperDep) -> Response:
    """The code refused from now on."""
    caller, _ = await admin_form(shopper)
    try:
        async with refused_by_service():
            done = await ops_discounts.deactivate(caller, discount_id)
    except ApiError as exc:
        said = f"The code could not be deactivated: {exc.detail}"
        return await _page(shopper, None, code=exc.status, said=said)
    await shopper.flash(f"The code {done.code} was deactivated.")
    return RedirectResponse("/ops/discounts", status_code=303)
