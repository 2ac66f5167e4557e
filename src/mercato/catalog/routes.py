"""The catalog's HTTP API under `/api/catalog`: a thin layer over the service.

Reads are public; writes need the admin role, and an admin also sees each product's
`on_hand` and `reserved` (everyone sees `stock`, what is available). Reservations
(the checkout's inventory calls) are for other services and admins. The hot read
paths answer with bytes encoded by orjson straight from the rows, without a response
model round trip (the models still document them in OpenAPI).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from mercato.catalog import listing, service
from mercato.catalog.dummyjson import parse_products
from mercato.catalog.inventory import reservations
from mercato.catalog.schemas import (
    CategoryIn,
    CategoryList,
    CategoryOut,
    ImportIn,
    ImportResult,
    ProductIn,
    ProductOut,
    ProductPatch,
    ProductSearchPage,
    ReleaseIn,
    ReservationIn,
    ReservationOut,
    StockIn,
    category_body,
    product_body,
    search_body,
)
from mercato.catalog.settings import CatalogRuntime
from mercato.chassis.security.tokens import Admin, AdminOrService, authenticated
from mercato.chassis.web.dependencies import SessionDep, get_runtime, runtime_of
from mercato.chassis.web.direct_routes import direct_route
from mercato.chassis.web.errors import Unauthorized, Unprocessable, field_error
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.json_response import JsonResponse
from mercato.chassis.web.openapi import problems

__all__ = ["JsonResponse", "router", "viewer_is_admin"]

router = APIRouter(prefix="/api/catalog", tags=["catalog"], route_class=StrictJsonRoute)


async def viewer_is_admin(request: Request) -> bool:
    """Whether a public read comes from an admin (a bad token reads as anonymous)."""
    if not request.headers.get("authorization"):
        return False
    try:
        principal = await authenticated(request)
    except Unauthorized:
        return False
    return principal.is_admin


Internal = AdminOrService
Catalog = Annotated[CatalogRuntime, Depends(runtime_of)]
ProductId = Annotated[str, Path(description="The product's id.")]
OrderId = Annotated[str, Path(description="The id of the order the stock is held for.")]
NO_PRODUCT = "No such product."
NO_RESERVATION = "No reservation for this order."
CONCURRENT = "a concurrent change conflicts; retry"
WRITE = problems(
    {
        404: NO_PRODUCT,
        409: f"The SKU is another product's, or {CONCURRENT}.",
        422: "Invalid fields, a category that does not exist, or units on hand below those "
        "reserved.",
    }
)


LISTING = """Products matching the filters and the search `q` (or the listed `ids`), one
page at a time (`limit`, then `cursor` = the previous page's `next_cursor`).

**Search.** `q` takes words (all must match), `"quoted phrases"`, `or` between
alternatives and `-word` to exclude; English words are stemmed (`laptops` finds
laptop). As you type: the last word (unless quoted or excluded) matches as a prefix
(`lap` finds Laptop), and so does any word ending in `*` (`lap*`). Typos: when a search
finds nothing and a word of 5 letters or more matches no product, the catalog's word
within one edit of it (a letter missing, added, changed, or two swapped) is searched
instead, and the answer says what was searched in `corrected` (`labtop` answers
`"corrected": "laptop"`); shorter words are never corrected. Ordered by relevance
with a search, else newest first (`sort`). Relevance lists first the products whose
name or brand holds every word searched for, then the other matches (the words in the
description, category or tags), each group the most recently added first.

**Filters.** `category`, `brand` (any case), `min_price`/`max_price` (minor units,
both inclusive), `in_stock=true` (only products with stock > 0, available to sell).

**Facets.** With `facets=true` the answer also carries `total` (the products matching
the query and every filter, over all pages) and `facets`: `brand` (the 20 most
frequent brands, most first), `price` (every band [min, max) in minor units: 0-2500,
2500-5000, 5000-10000, 10000-25000, 25000-50000, 50000 and up, `max` null) and
`in_stock` (how many of them have stock). Each facet counts for the query, the
category and the other filters but ignores its own filter, so that a shopper sees the
alternatives: the brand counts ignore `brand`, the price counts ignore the price
filters; `in_stock` counts what `in_stock=true` would keep. Without `facets=true`
nothing is counted.

Answers to searches and facet counts may be served from a cache for a few seconds
(`search_cache_seconds`), except to administrators."""


# The catalog's busiest reads (browsing, search, a cart's products by id), its
# hottest (a product) and the categories are direct routes (see chassis.web.direct_routes).
@direct_route(router, "/products", response_model=ProductSearchPage, description=LISTING)
async def list_products(
    request: Request, query: Annotated[listing.ProductQuery, Query()]
) -> Response:
    """Products matching the filters and search (or the listed ids), one page at a time."""
    admin = await viewer_is_admin(request)
    runtime: CatalogRuntime = get_runtime(request)
    if admin or not listing.cacheable(query):
        return JsonResponse(await _listing_body(runtime, query, admin=admin))
    cache = runtime.context.search_cache

    async def encoded() -> bytes:
        return bytes(JsonResponse(await _listing_body(runtime, query, admin=False)).body)

    return Response(await cache.get(query, encoded), media_type="application/json")


async def _listing_body(
    runtime: CatalogRuntime, query: listing.ProductQuery, *, admin: bool
) -> dict[str, Any]:
    answer = await listing.list_products(runtime.database.reader, query=query)
    items = [product_body(p, admin=admin) for p in answer.page.items]
    return search_body(
        items,
        answer.page.next_cursor,
        total=answer.total,
        facets=answer.facets,
        corrected=answer.corrected,
    )


def _products_changed(runtime: CatalogRuntime) -> None:
    """Forget the process's cached search answers: they may show what just changed."""
    runtime.context.search_cache.clear()


@direct_route(
    router,
    "/products/{product_id}",
    response_model=ProductOut,
    responses=problems({404: NO_PRODUCT}),
)
async def read_product(request: Request, product_id: ProductId) -> Response:
    """One product; 404 when there is none."""
    admin = await viewer_is_admin(request)
    database = get_runtime(request).database
    product = await service.read_product(database, product_id=product_id)
    return JsonResponse(product_body(product, admin=admin))


@router.post(
    "/products",
    status_code=201,
    response_model=ProductOut,
    responses=problems(
        {
            409: f"The SKU is taken, or {CONCURRENT}.",
            422: "Invalid fields, or a category that does not exist.",
        }
    ),
)
async def create_product(
    product_in: ProductIn, session: SessionDep, runtime: Catalog, _: Admin
) -> Response:
    """Create a product (admin); 409 when the SKU is taken."""
    product = await service.create_product(session, outbox=runtime.outbox, product_in=product_in)
    _products_changed(runtime)
    location = f"{router.prefix}/products/{product.id}"
    body = product_body(product, admin=True)
    return JsonResponse(body, status_code=201, headers={"Location": location})


@router.patch("/products/{product_id}", response_model=ProductOut, responses=WRITE)
async def update_product(
    product_id: ProductId, patch: ProductPatch, session: SessionDep, runtime: Catalog, _: Admin
) -> Response:
    """Change the fields sent (admin)."""
    product = await service.update_product(
        session,
        outbox=runtime.outbox,
        product_id=product_id,
        changes=service.changed_fields(patch),
    )
    _products_changed(runtime)
    return JsonResponse(product_body(product, admin=True))


@router.put("/products/{product_id}", response_model=ProductOut, responses=WRITE)
async def replace_product(
    product_id: ProductId, product_in: ProductIn, session: SessionDep, runtime: Catalog, _: Admin
) -> Response:
    """Replace a product's fields (admin); 404 when there is none."""
    product = await service.replace_product(
        session, outbox=runtime.outbox, product_id=product_id, product_in=product_in
    )
    _products_changed(runtime)
    return JsonResponse(product_body(product, admin=True))


@router.delete(
    "/products/{product_id}",
    status_code=204,
    responses=problems(
        {404: NO_PRODUCT, 409: f"Units of it are reserved for orders, or {CONCURRENT}."}
    ),
)
async def delete_product(
    product_id: ProductId, session: SessionDep, runtime: Catalog, _: Admin
) -> Response:
    """Delete a product (admin)."""
    await service.delete_product(session, outbox=runtime.outbox, product_id=product_id)
    _products_changed(runtime)
    return Response(status_code=204)


@router.post(
    "/products/import",
    response_model=ImportResult,
    responses=problems(
        {
            409: "A concurrent change conflicts; retry.",
            422: "Items that do not parse or fit (`errors` names each, with its `index`): "
            "nothing was imported.",
        }
    ),
)
async def import_products(
    import_in: ImportIn, session: SessionDep, runtime: Catalog, _: Admin
) -> ImportResult:
    """Upsert products in the dummyjson format by SKU, all or nothing (admin)."""
    products, issues = parse_products(import_in.products, currency=runtime.settings.currency)
    if issues:
        where = ", ".join(f"item {i.index} ({i.field})" for i in issues[:10])
        raise Unprocessable(
            f"Nothing was imported; invalid {where}.",
            errors=[field_error(i.field, i.message, index=i.index) for i in issues],
        )
    result = await service.import_products(session, outbox=runtime.outbox, products=products)
    _products_changed(runtime)
    return result


@direct_route(router, "/categories", response_model=CategoryList)
async def list_categories(request: Request) -> Response:
    """Every category with its number of products."""
    rows = await service.list_categories(get_runtime(request).database)
    return JsonResponse({"items": [category_body(row) for row in rows], "next_cursor": None})


@router.post(
    "/categories",
    status_code=201,
    response_model=CategoryOut,
    responses=problems({409: "A category has this slug."}),
)
async def create_category(category_in: CategoryIn, session: SessionDep, _: Admin) -> CategoryOut:
    """Create a category (admin); 409 when the slug exists."""
    return await service.create_category(session, category_in=category_in)


@router.post(
    "/products/{product_id}/stock",
    response_model=ProductOut,
    responses=problems(
        {
            404: NO_PRODUCT,
            422: "Invalid fields, or a correction leaving fewer units on hand than are "
            "reserved (or more than the maximum).",
        }
    ),
)
async def restock_product(
    product_id: ProductId, stock_in: StockIn, session: SessionDep, runtime: Catalog, _: Admin
) -> Response:
    """Add units on hand, or correct them with a negative delta (admin); 422 below reserved."""
    product = await reservations.restock(
        session, outbox=runtime.outbox, product_id=product_id, delta=stock_in.delta
    )
    _products_changed(runtime)
    return JsonResponse(product_body(product, admin=True))


@router.post(
    "/reservations",
    status_code=201,
    response_model=ReservationOut,
    responses={
        200: {"model": ReservationOut, "description": "The order's existing reservation."},
        **problems(
            {
                409: "Not enough stock for some lines (`errors` names each, with what is "
                "available): nothing was reserved.",
                422: "Invalid fields, unknown products, products in several currencies, or a "
                "total beyond any amount.",
            }
        ),
    },
)
async def reserve_stock(
    reservation_in: ReservationIn, session: SessionDep, runtime: Catalog, _: Internal
) -> Response:
    """Hold stock for an order, all lines or none (service, admin); 409 when short."""
    body, created = await reservations.reserve(
        session,
        outbox=runtime.outbox,
        reservation_in=reservation_in,
        ttl_seconds=runtime.settings.reservation_ttl_seconds,
    )
    if not created:
        return JsonResponse(body)
    location = f"{router.prefix}/reservations/{reservation_in.order_id}"
    return JsonResponse(body, status_code=201, headers={"Location": location})


@router.get(
    "/reservations/{order_id}",
    response_model=ReservationOut,
    responses=problems({404: NO_RESERVATION}),
)
async def read_reservation(order_id: OrderId, session: SessionDep, _: Internal) -> Response:
    """An order's reservation (service, admin); 404 when there is none."""
    return JsonResponse(await reservations.get_reservation(session, order_id=order_id))


@router.post(
    "/reservations/{order_id}/commit",
    response_model=ReservationOut,
    responses=problems(
        {404: NO_RESERVATION, 409: "The reservation was released (or expired) before."}
    ),
)
async def commit_reservation(
    order_id: OrderId, session: SessionDep, runtime: Catalog, _: Internal
) -> Response:
    """Take the reserved units off the shelf (service, admin); 409 once released or expired."""
    body = await reservations.commit(session, outbox=runtime.outbox, order_id=order_id)
    return JsonResponse(body)


@router.post(
    "/reservations/{order_id}/release",
    response_model=ReservationOut,
    responses=problems({404: NO_RESERVATION}),
)
async def release_reservation(
    order_id: OrderId,
    session: SessionDep,
    runtime: Catalog,
    _: Internal,
    release_in: ReleaseIn | None = None,
) -> Response:
    """Give the units back (service, admin); after a commit they go back on hand."""
    reason = release_in.reason if release_in is not None else "requested"
    body = await reservations.release(
        session, outbox=runtime.outbox, order_id=order_id, reason=reason
    )
    return JsonResponse(body)
