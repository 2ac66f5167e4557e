"""`/ops/catalog/new` and `/ops/catalog/products/{id}/edit`: a product created or changed.

    GET  /ops/catalog/new                       the form of a new product
    POST /ops/catalog/new                       create it (the catalog's admin API)
    GET  /ops/catalog/products/{id}/edit        the form, filled with the product
    POST /ops/catalog/products/{id}/edit        change what was changed (a PATCH)

The form's fields are text as typed; `product_fields` reads them into what the
catalog takes (a price `4.50` in minor units, tags separated by commas) and names
the field of each mistake. What the catalog refuses comes back beside its field (a
SKU another product has: 409; its own checks: 422), the form keeping what was typed.
Stock is set when a product is created; after that it moves by restocks (the
product's page), so that a change of the description never overwrites a sale.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import ops_catalog
from mercato.web.api.backend import ApiError
from mercato.web.errors import PageNotFound
from mercato.web.forms import Field, FormView, Posted, form_view
from mercato.web.ops.access import admin, admin_form, refused_by_service
from mercato.web.ops.catalog import product_href
from mercato.web.ops.nav import ops_page
from mercato.web.shopper import Shopper, ShopperDep

__all__ = [
    "EDIT_FIELDS",
    "NEW_FIELDS",
    "SKU_TAKEN",
    "ProductFormView",
    "product_fields",
    "router",
    "values_of",
]

router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
EDIT_FIELDS = (
    Field("title", "Title", max_length=200),
    Field("sku", "SKU", max_length=64, hint="Letters, digits, '.', '_' or '-'; unique."),
    Field("price", "Price", "text", "off", max_length=20, hint="In the currency's units: 4.50"),
    Field("currency", "Currency", "text", "off", max_length=3, hint="ISO 4217: USD, EUR..."),
    Field("brand", "Brand", required=False, max_length=100),
    Field(
        "category", "Category", required=False, max_length=64, hint="An existing category's slug."
    ),
    Field("tags", "Tags", required=False, max_length=1600, hint="Separated by commas."),
    Field("description", "Description", required=False, max_length=10_000),
)
NEW_FIELDS = (
    *EDIT_FIELDS,
    Field("stock", "Units on hand", "number", "off", max_length=8),
)
SKU_TAKEN = "Another product has this SKU."
MAX_TAGS = 30


class ProductFormView:
    """The product form, and where it goes back to."""

    __slots__ = ("back", "form", "heading")

    def __init__(self, heading: str, form: FormView, back: str) -> None:
        self.heading = heading
        self.form = form
        self.back = back


def _amount(price: str) -> int | None:
    """Minor units of a price typed as `4.50` (None: not a price)."""
    try:
        value = Decimal(price.replace(",", ""))
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        return None
    return int(value * 100)


def product_fields(
    posted: Posted, fields: tuple[Field, ...]
) -> tuple[dict[str, Any], dict[str, str]]:
    """What the catalog takes from the form's `fields`, and the mistakes by field."""
    errors = {
        f.name: f"{f.label} is required."
        for f in fields
        if f.required and not posted.stripped(f.name)
    }
    body: dict[str, Any] = {
        "title": posted.stripped("title"),
        "sku": posted.stripped("sku"),
        "brand": posted.stripped("brand") or None,
        "category": posted.stripped("category") or None,
        "description": posted["description"].strip(),
        "tags": [t.strip() for t in posted["tags"].split(",") if t.strip()],
    }
    amount = _amount(posted.stripped("price"))
    if amount is None and "price" not in errors:
        errors["price"] = "Price must be an amount such as 4.50."
    currency = posted.stripped("currency").upper()
    if len(currency) != 3 or not currency.isalpha():
        errors.setdefault("currency", "Currency must be three letters, such as USD.")
    body["price"] = {"amount": amount or 0, "currency": currency}
    if len(body["tags"]) > MAX_TAGS:
        errors["tags"] = f"At most {MAX_TAGS} tags."
    if any(f.name == "stock" for f in fields):
        stock = posted.stripped("stock")
        if not stock.isdigit() or len(stock) > 7:
            errors.setdefault("stock", "Units on hand must be a whole number, 0 or more.")
        else:
            body["stock"] = int(stock)
    return body, errors


def values_of(product: ops_catalog.Product) -> dict[str, str]:
    """The form's fields, filled with `product`."""
    return {
        "title": product.title,
        "sku": product.sku,
        "price": f"{Decimal(product.price.amount) / 100:.2f}",
        "currency": product.price.currency,
        "brand": product.brand or "",
        "category": product.category or "",
        "tags": ", ".join(product.tags),
        "description": product.description,
    }


def _refusals(exc: ApiError, fields: tuple[Field, ...]) -> dict[str, str]:
    """The catalog's refusal, by the form's field it is about."""
    if exc.status == 409:
        return {"sku": SKU_TAKEN} if "sku" in exc.detail.lower() else {}
    names = {f.name: f.label for f in fields}
    found: dict[str, str] = {}
    for error in exc.errors:
        name = next((part for part in error.field.split(".") if part in names), None)
        if name is not None and name not in found:
            text = error.message.rstrip(".")
            found[name] = (f"{names[name]} {text}" if text[:1].islower() else text) + "."
    return found


def _new_form(
    csrf_token: str,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
) -> FormView:
    """The form of a new product."""
    return form_view(
        "product",
        NEW_FIELDS,
        action="/ops/catalog/new",
        submit="Create product",
        csrf_token=csrf_token,
        values=values,
        errors=errors,
        message=message,
    )


def _edit_form(
    href: str,
    csrf_token: str,
    values: Mapping[str, str],
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
) -> FormView:
    """The form of a product's changes."""
    return form_view(
        "product",
        EDIT_FIELDS,
        action=f"{href}/edit",
        submit="Save changes",
        csrf_token=csrf_token,
        values=values,
        errors=errors,
        message=message,
    )


async def _page(shopper: Shopper, view: ProductFormView, *, status: int = 200) -> Response:
    return await ops_page(shopper, "ops/product_form.html", view.heading, view, status=status)


@router.get("/ops/catalog/new")
async def new_product_page(shopper: ShopperDep) -> Response:
    """The form of a new product."""
    await admin(shopper)
    values = {"currency": "USD", "stock": "0"}
    form = _new_form(await shopper.csrf_token(), values)
    return await _page(shopper, ProductFormView("New product", form, "/ops/catalog"))


@router.post("/ops/catalog/new")
async def create_product(shopper: ShopperDep) -> Response:
    """Create the product; its page, or the form with what to fix."""
    caller, posted = await admin_form(shopper)
    body, errors = product_fields(posted, NEW_FIELDS)
    message, status = None, 422
    if not errors:
        try:
            async with refused_by_service():
                product = await ops_catalog.create_product(caller, body)
        except ApiError as exc:
            status, errors = exc.status, _refusals(exc, NEW_FIELDS)
            message = None if errors else exc.detail
        else:
            await shopper.flash(f"The product {product.title} was created.")
            return RedirectResponse(product_href(product.id), status_code=303)
    values = {f.name: posted.stripped(f.name) for f in NEW_FIELDS}
    form = _new_form(shopper.record_csrf(), values, errors, message)
    return await _page(shopper, ProductFormView("New product", form, "/ops/catalog"), status=status)


async def _product(shopper: Shopper, product_id: str) -> ops_catalog.Product:
    caller = await shopper.caller()
    async with refused_by_service():
        try:
            return await ops_catalog.product(caller, product_id)
        except ApiError as exc:
            if exc.status in (404, 422):
                raise PageNotFound(f"There is no product {product_id}.") from exc
            raise


@router.get("/ops/catalog/products/{product_id}/edit")
async def edit_product_page(product_id: str, shopper: ShopperDep) -> Response:
    """The form, filled with the product."""
    await admin(shopper)
    product = await _product(shopper, product_id)
    href = product_href(product.id)
    form = _edit_form(href, await shopper.csrf_token(), values_of(product))
    return await _page(shopper, ProductFormView(f"Edit {product.title}", form, href))


@router.post("/ops/catalog/products/{product_id}/edit")
async def edit_product(product_id: str, shopper: ShopperDep) -> Response:
    """Send the fields that changed; the product's page, or the form with what to fix."""
    caller, posted = await admin_form(shopper)
    product = await _product(shopper, product_id)
    href = product_href(product.id)
    body, errors = product_fields(posted, EDIT_FIELDS)
    message, status = None, 422
    if not errors:
        current, _ = product_fields(Posted(values_of(product)), EDIT_FIELDS)
        changes = {k: v for k, v in body.items() if current.get(k) != v}
        try:
            async with refused_by_service():
                if changes:
                    await ops_catalog.update_product(caller, product.id, changes)
        except ApiError as exc:
            status, errors = exc.status, _refusals(exc, EDIT_FIELDS)
            message = None if errors else exc.detail
        else:
            said = "was saved" if changes else "had no change to save"
            await shopper.flash(f"The product {body['title']} {said}.")
            return RedirectResponse(href, status_code=303)
    values = {f.name: posted.stripped(f.name) for f in EDIT_FIELDS}
    form = _edit_form(href, shopper.record_csrf(), values, errors, message)
    return await _page(shopper, ProductFormView(f"Edit {product.title}", form, href), status=status)
