"""`/ops/catalog`: the products, and on each one's page its stock and its pictures.

    GET  /ops/catalog                          a search (`q`) and a page of products
    GET  /ops/catalog/products/{id}            a product: stock on hand, reserved and
                                               available, its pictures, the forms
    POST /ops/catalog/products/{id}/stock      restock (or correct) by a number of units
    POST /ops/catalog/products/{id}/images     upload a picture (multipart, bounded)

Each form posts to its own URL and goes back to the product's page with what
happened (the session's message for the next page); a refused one gets the page
back with the reason beside the field (422), or the service's status. A picture the
catalog cannot take because it has no picture API (404/405 from the upload route
itself) says so. Creating and editing products, and imports, are `products.py` and
`imports.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import ops_catalog
from mercato.web.api.backend import ApiError, Caller
from mercato.web.errors import PageNotFound
from mercato.web.forms import Field, FormView, form_view
from mercato.web.money import format_money
from mercato.web.ops.access import admin, admin_form, refused_by_service
from mercato.web.ops.nav import ops_page
from mercato.web.ops.uploads import UploadTooLarge, read_upload
from mercato.web.shopper import Shopper, ShopperDep

__all__ = [
    "CatalogView",
    "ProductView",
    "catalog_view",
    "parse_delta",
    "product_href",
    "product_view",
    "restocked_message",
    "router",
]

router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
RESTOCK_FIELDS = (
    Field(
        "delta",
        "Units to add",
        "number",
        "off",
        max_length=8,
        hint="A negative number takes units off (a correction); never below those reserved.",
    ),
)
UPLOAD_FIELDS = (Field("file", "Picture", "file", None, hint="A PNG, JPEG, WebP or GIF image."),)
CHOOSE = "Choose a picture to upload."
TOO_LARGE = "The picture is larger than the {size} the console takes."


def product_href(product_id: str) -> str:
    """The console's page of a product."""
    return f"/ops/catalog/products/{quote(product_id, safe='')}"


@dataclass(frozen=True, slots=True)
class ProductRow:
    """A product in the list."""

    title: str
    href: str
    sku: str
    price: str
    stock: int
    on_hand: str
    reserved: str


@dataclass(frozen=True, slots=True)
class CatalogView:
    """The catalog page: the search and a page of products."""

    query: str
    products: tuple[ProductRow, ...]
    next_href: str | None


def catalog_view(query: str, page: ops_catalog.ProductPage) -> CatalogView:
    """A page of products found by `query`."""
    rows = tuple(
        ProductRow(
            title=p.title,
            href=product_href(p.id),
            sku=p.sku,
            price=format_money(p.price),
            stock=p.stock,
            on_hand="" if p.on_hand is None else str(p.on_hand),
            reserved="" if p.reserved is None else str(p.reserved),
        )
        for p in page.items
    )
    next_href = None
    if page.next_cursor:
        params = {"q": query, "cursor": page.next_cursor} if query else {"cursor": page.next_cursor}
        next_href = "/ops/catalog?" + urlencode(params)
    return CatalogView(query, rows, next_href)


@dataclass(frozen=True, slots=True)
class Picture:
    """A picture of the product: shown when it is the shop's own, else linked."""

    src: str
    own: bool


@dataclass(frozen=True, slots=True)
class ProductView:
    """A product's page in the console."""

    id: str
    title: str
    facts: tuple[tuple[str, str], ...]
    pictures: tuple[Picture, ...]
    restock: FormView
    upload: FormView
    edit_href: str


def product_view(
    product: ops_catalog.Product,
    csrf_token: str,
    *,
    restock_values: dict[str, str] | None = None,
    restock_errors: dict[str, str] | None = None,
    restock_message: str | None = None,
    upload_errors: dict[str, str] | None = None,
    upload_message: str | None = None,
) -> ProductView:
    """The page of `product`, its forms showing what a refused post needs fixed."""
    href = product_href(product.id)
    facts = [
        ("SKU", product.sku),
        ("Price", format_money(product.price)),
        ("Available", str(product.stock)),
        ("On hand", "" if product.on_hand is None else str(product.on_hand)),
        ("Reserved for orders", "" if product.reserved is None else str(product.reserved)),
        ("Category", product.category or "none"),
    ]
    if product.brand:
        facts.insert(1, ("Brand", product.brand))
    pictures = tuple(Picture(src, src.startswith("/")) for src in product.images)
    return ProductView(
        id=product.id,
        title=product.title,
        facts=tuple(facts),
        pictures=pictures,
        restock=form_view(
            "restock",
            RESTOCK_FIELDS,
            action=f"{href}/stock",
            submit="Restock",
            csrf_token=csrf_token,
            values=restock_values,
            errors=restock_errors,
            message=restock_message,
        ),
        upload=form_view(
            "upload",
            UPLOAD_FIELDS,
            action=f"{href}/images",
            submit="Upload picture",
            csrf_token=csrf_token,
            errors=upload_errors,
            message=upload_message,
        ),
        edit_href=f"{href}/edit",
    )


def parse_delta(text: str) -> int | None:
    """The units of a restock form: a whole number, not 0 (None: not one)."""
    text = text.strip()
    if not text or len(text) > 8:
        return None
    try:
        delta = int(text)
    except ValueError:
        return None
    return delta if delta != 0 else None


def restocked_message(product: ops_catalog.Product, delta: int) -> str:
    """What the product's page says after a restock."""
    verb = f"Added {delta}" if delta > 0 else f"Took {-delta}"
    unit = "unit" if abs(delta) == 1 else "units"
    return (
        f"{verb} {unit} {'to' if delta > 0 else 'off'} {product.title}: "
        f"{product.on_hand} on hand, {product.stock} available."
    )


async def _product(caller: Caller, product_id: str) -> ops_catalog.Product:
    async with refused_by_service():
        try:
            return await ops_catalog.product(caller, product_id)
        except ApiError as exc:
            if exc.status in (404, 422):
                raise PageNotFound(f"There is no product {product_id}.") from exc
            raise


async def _product_page(shopper: Shopper, view: ProductView, *, status: int = 200) -> Response:
    return await ops_page(shopper, "ops/product.html", view.title, view, status=status)


@router.get("/ops/catalog")
async def catalog_page(request: Request, shopper: ShopperDep) -> Response:
    """A search of the products, a page at a time."""
    caller = await admin(shopper)
    query = request.query_params.get("q", "").strip()[:200]
    cursor = request.query_params.get("cursor") or None
    async with refused_by_service():
        try:
            page = await ops_catalog.products(caller, q=query, cursor=cursor)
        except ApiError as exc:
            if exc.status not in (400, 422):  # a cursor that is not one: the first page
                raise
            page = await ops_catalog.products(caller, q=query)
    return await ops_page(shopper, "ops/catalog.html", "Catalog", catalog_view(query, page))


@router.get("/ops/catalog/products/{product_id}")
async def product_page(product_id: str, shopper: ShopperDep) -> Response:
    """A product: its stock, its pictures and the forms."""
    caller = await admin(shopper)
    product = await _product(caller, product_id)
    return await _product_page(shopper, product_view(product, await shopper.csrf_token()))


@router.post("/ops/catalog/products/{product_id}/stock")
async def restock(product_id: str, shopper: ShopperDep) -> Response:
    """Add (or take off) units on hand; back to the product's page."""
    caller, posted = await admin_form(shopper)
    values = {"delta": posted.stripped("delta")}
    delta = parse_delta(values["delta"])
    if delta is None:
        product = await _product(caller, product_id)
        errors = {"delta": "Units to add must be a whole number other than 0, e.g. 12 or -3."}
        view = product_view(
            product, shopper.record_csrf(), restock_values=values, restock_errors=errors
        )
        return await _product_page(shopper, view, status=422)
    try:
        async with refused_by_service():
            product = await ops_catalog.restock(caller, product_id, delta)
    except ApiError as exc:
        if exc.status == 404:
            raise PageNotFound(f"There is no product {product_id}.") from exc
        product = await _product(caller, product_id)
        refused = {"delta": exc.field_message("delta") or exc.detail} if exc.status == 422 else None
        message = None if refused else exc.detail
        view = product_view(
            product,
            shopper.record_csrf(),
            restock_values=values,
            restock_errors=refused,
            restock_message=message,
        )
        return await _product_page(shopper, view, status=exc.status)
    await shopper.flash(restocked_message(product, delta))
    return RedirectResponse(product_href(product_id), status_code=303)


def _size(limit: int) -> str:
    return f"{limit // 1024} KiB" if limit < 1024 * 1024 else f"{limit / 1024 / 1024:.0f} MiB"


@router.post("/ops/catalog/products/{product_id}/images")
async def upload_image(product_id: str, shopper: ShopperDep) -> Response:
    """Send a picture of the product to the catalog; back to the product's page."""
    caller = await admin(shopper)
    limit = shopper.ctx.settings.console_upload_bytes
    errors: dict[str, str] | None = None
    status = 422
    try:
        _, upload = await read_upload(shopper, field="file", max_bytes=limit)
    except UploadTooLarge:
        upload, status = None, 413
        errors = {"file": TOO_LARGE.format(size=_size(limit))}
    if upload is None and errors is None:
        errors = {"file": CHOOSE}
    if upload is not None:
        try:
            async with refused_by_service():
                await ops_catalog.upload_image(
                    caller,
                    product_id,
                    filename=upload.filename,
                    content_type=upload.content_type,
                    data=upload.data,
                )
        except ApiError as exc:
            status = exc.status
            errors = {"file": exc.field_message("file") or exc.detail}
        else:
            name = f" {upload.filename}" if upload.filename else ""
            await shopper.flash(f"The picture{name} was added to the product.")
            return RedirectResponse(product_href(product_id), status_code=303)
    product = await _product(caller, product_id)
    view = product_view(product, shopper.record_csrf(), upload_errors=errors)
    return await _product_page(shopper, view, status=status)
