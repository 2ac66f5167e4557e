"""The catalog's HTTP API under `/api/catalog`: a thin layer over the service.

Reads are public; writes need the admin role. The hot read paths answer with bytes
encoded by orjson straight from the rows, without a response model round trip (the
models still document them in OpenAPI).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from mercato.catalog import listing, service
from mercato.catalog.dummyjson import parse_products
from mercato.catalog.schemas import (
    CategoryIn,
    CategoryList,
    CategoryOut,
    ImportIn,
    ImportResult,
    ProductIn,
    ProductOut,
    ProductPage,
    ProductPatch,
    product_body,
)
from mercato.catalog.settings import CatalogSettings
from mercato.catalog.store import Sort
from mercato.chassis.deps import RuntimeDep, SessionDep
from mercato.chassis.errors import Unprocessable
from mercato.chassis.events import Outbox
from mercato.chassis.responses import JsonResponse
from mercato.chassis.runtime import Runtime
from mercato.chassis.security import Admin

__all__ = ["JsonResponse", "router"]

router = APIRouter(prefix="/api/catalog", tags=["catalog"])


def _outbox(runtime: Runtime) -> Outbox:
    if runtime.outbox is None:
        raise RuntimeError("the catalog runs without an outbox")
    return runtime.outbox


def _settings(runtime: Runtime) -> CatalogSettings:
    settings = runtime.settings
    if not isinstance(settings, CatalogSettings):
        raise RuntimeError("the catalog runs with settings that are not CatalogSettings")
    return settings


@router.get("/products", response_model=ProductPage)
async def list_products(
    session: SessionDep,
    *,
    q: Annotated[str | None, Query(max_length=200, description="Search words.")] = None,
    category: Annotated[str | None, Query(max_length=64)] = None,
    brand: Annotated[str | None, Query(max_length=100)] = None,
    min_price: Annotated[int | None, Query(ge=0, description="Minor units.")] = None,
    max_price: Annotated[int | None, Query(ge=0, description="Minor units.")] = None,
    sort: Annotated[Sort | None, Query(description="Default: relevance with q.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    """Products matching the filters and search, one page at a time."""
    query = listing.ProductQuery(
        q=q,
        category=category,
        brand=brand,
        min_price=min_price,
        max_price=max_price,
        sort=sort,
        limit=limit,
        cursor=cursor,
    )
    page = await listing.list_products(session, query=query)
    items = [product_body(p) for p in page.items]
    return JsonResponse({"items": items, "next_cursor": page.next_cursor})


@router.get("/products/{product_id}", response_model=ProductOut)
async def get_product(product_id: str, session: SessionDep) -> Response:
    """One product; 404 when there is none."""
    product = await service.get_product(session, product_id=product_id)
    return JsonResponse(product_body(product))


@router.post("/products", status_code=201, response_model=ProductOut)
async def create_product(
    product_in: ProductIn, session: SessionDep, runtime: RuntimeDep, _: Admin
) -> Response:
    """Create a product (admin); 409 when the SKU is taken."""
    product = await service.create_product(session, outbox=_outbox(runtime), product_in=product_in)
    location = f"{router.prefix}/products/{product.id}"
    return JsonResponse(product_body(product), status_code=201, headers={"Location": location})


@router.patch("/products/{product_id}", response_model=ProductOut)
async def update_product(
    product_id: str, patch: ProductPatch, session: SessionDep, runtime: RuntimeDep, _: Admin
) -> Response:
    """Change the fields sent (admin)."""
    product = await service.update_product(
        session,
        outbox=_outbox(runtime),
        product_id=product_id,
        changes=service.changed_fields(patch),
    )
    return JsonResponse(product_body(product))


@router.put("/products/{product_id}", response_model=ProductOut)
async def replace_product(
    product_id: str, product_in: ProductIn, session: SessionDep, runtime: RuntimeDep, _: Admin
) -> Response:
    """Replace a product's fields (admin); 404 when there is none."""
    product = await service.replace_product(
        session, outbox=_outbox(runtime), product_id=product_id, product_in=product_in
    )
    return JsonResponse(product_body(product))


@router.delete("/products/{product_id}", status_code=204)
async def delete_product(
    product_id: str, session: SessionDep, runtime: RuntimeDep, _: Admin
) -> Response:
    """Delete a product (admin)."""
    await service.delete_product(session, outbox=_outbox(runtime), product_id=product_id)
    return Response(status_code=204)


@router.post("/products/import", response_model=ImportResult)
async def import_products(
    import_in: ImportIn, session: SessionDep, runtime: RuntimeDep, _: Admin
) -> ImportResult:
    """Upsert products in the dummyjson format by SKU, all or nothing (admin)."""
    products, issues = parse_products(import_in.products, currency=_settings(runtime).currency)
    if issues:
        where = ", ".join(f"item {i.index} ({i.field})" for i in issues[:10])
        raise Unprocessable(
            f"Nothing was imported; invalid {where}.",
            errors=[{"in": "body", **issue.model_dump()} for issue in issues],
        )
    return await service.import_products(session, outbox=_outbox(runtime), products=products)


@router.get("/categories", response_model=CategoryList)
async def list_categories(session: SessionDep) -> CategoryList:
    """Every category with its number of products."""
    return CategoryList(items=await service.list_categories(session))


@router.post("/categories", status_code=201, response_model=CategoryOut)
async def create_category(category_in: CategoryIn, session: SessionDep, _: Admin) -> CategoryOut:
    """Create a category (admin); 409 when the slug exists."""
    return await service.create_category(session, category_in=category_in)
