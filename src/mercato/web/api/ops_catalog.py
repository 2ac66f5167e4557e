"""Calls to the catalog for the operations console: products, stock, pictures, imports.

Writes are the catalog's admin API: create (`POST /api/catalog/products`), change
(`PATCH .../{id}`), restock (`POST .../{id}/stock`), a picture (`POST .../{id}/images`,
multipart), a bulk import (`POST /api/catalog/products/import`, all or nothing per
call), an import job (`POST /api/catalog/imports`, followed by its id). An admin's
read of a product also shows its units on hand and reserved.

A picture is a file, which the chassis' service client (JSON bodies) does not send:
`upload_image` posts it as `multipart/form-data` on the same aiohttp session, to an
instance of the catalog's pool, with the administrator's token and the call's
deadline, and reads the answer as every call does (`ApiError`, `BackendDown`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, ConfigDict

from mercato.chassis.client.responses import ServiceResponse
from mercato.web.api import catalog
from mercato.web.api.backend import BackendDown, Caller, _api_error
from mercato.web.api.catalog import Category

__all__ = [
    "Category",
    "Image",
    "ImportIssue",
    "ImportJob",
    "ImportResult",
    "Product",
    "ProductPage",
    "categories",
    "create_product",
    "import_job",
    "import_products",
    "product",
    "products",
    "restock",
    "start_import",
    "update_product",
    "upload_image",
]


class Product(catalog.Product):
    """A product, as an administrator reads it: as the shop shows it, and its units."""

    on_hand: int | None = None
    reserved: int | None = None
    updated_at: datetime | None = None


class ProductPage(BaseModel):
    """A page of products."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: tuple[Product, ...]
    next_cursor: str | None = None


class Image(BaseModel):
    """A picture the catalog stored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    url: str
    variants: dict[str, str] = {}


class ImportResult(BaseModel):
    """What one import call did."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    created: int = 0
    updated: int = 0
    unchanged: int = 0


class ImportIssue(BaseModel):
    """Why the catalog refused one item of an import."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    index: int | None = None
    field: str
    message: str


class ImportJob(ImportResult):
    """An import job of the catalog and its progress (`GET /api/catalog/imports/{id}`)."""

    id: str
    state: str
    finished: bool
    owner: str
    filename: str | None = None
    total: int | None = None
    done: int = 0
    errors: list[ImportIssue] = []
    message: str | None = None


def _path(product_id: str) -> str:
    return f"/api/catalog/products/{quote(product_id, safe='')}"


async def products(
    caller: Caller, *, q: str = "", limit: int = 20, cursor: str | None = None
) -> ProductPage:
    """Products matching `q` (every product without), a page."""
    params: dict[str, str | int] = {"limit": limit}
    if q:
        params["q"] = q
    if cursor:
        params["cursor"] = cursor
    body = await caller.call("catalog", "GET", "/api/catalog/products", params=params)
    return ProductPage.model_validate(body)


async def product(caller: Caller, product_id: str) -> Product:
    """One product (404: none)."""
    return Product.model_validate(await caller.call("catalog", "GET", _path(product_id)))


async def categories(caller: Caller) -> tuple[Category, ...]:
    """Every category."""
    body = await caller.call("catalog", "GET", "/api/catalog/categories")
    return tuple(Category.model_validate(item) for item in body["items"])


async def restock(caller: Caller, product_id: str, delta: int) -> Product:
    """Add `delta` units on hand (negative: take off); 422 below what is reserved."""
    body = await caller.call("catalog", "POST", f"{_path(product_id)}/stock", json={"delta": delta})
    return Product.model_validate(body)


async def create_product(caller: Caller, fields: dict[str, Any]) -> Product:
    """Create a product (409: the SKU is taken; 422: `errors` say which field)."""
    body = await caller.call("catalog", "POST", "/api/catalog/products", json=fields)
    return Product.model_validate(body)


async def update_product(caller: Caller, product_id: str, changes: dict[str, Any]) -> Product:
    """Change the fields given (409: the SKU is another's; 422: `errors`)."""
    body = await caller.call("catalog", "PATCH", _path(product_id), json=changes)
    return Product.model_validate(body)


async def import_products(caller: Caller, items: list[Any]) -> ImportResult:
    """Upsert a batch of products in the dummyjson format (422: nothing was imported)."""
    body = await caller.call(
        "catalog", "POST", "/api/catalog/products/import", json={"products": items}
    )
    return ImportResult.model_validate(body)


async def start_import(caller: Caller, items: list[Any], *, filename: str) -> ImportJob:
    """Start an import job of products in the dummyjson format (202: it runs on)."""
    body = await caller.call(
        "catalog",
        "POST",
        "/api/catalog/imports",
        json={"products": items, "filename": filename},
    )
    return ImportJob.model_validate(body)


async def import_job(caller: Caller, job_id: str) -> ImportJob:
    """An import job of the catalog (404: none)."""
    body = await caller.call("catalog", "GET", f"/api/catalog/imports/{quote(job_id, safe='')}")
    return ImportJob.model_validate(body)


async def upload_image(
    caller: Caller, product_id: str, *, filename: str, content_type: str, data: bytes
) -> Image:
    """Send a picture of the product (`multipart/form-data`, field `file`).

    ApiError for the catalog's refusal (404/405 too: a catalog without pictures),
    BackendDown when it cannot be reached in time or answers 5xx.
    """
    backend = caller.backend
    instance = backend.pools["catalog"].pick()
    if instance is None:
        raise BackendDown("catalog", "no instance")
    form = aiohttp.FormData()
    form.add_field("file", data, filename=filename or "picture", content_type=content_type)
    headers = {"Accept": "application/json"}
    if caller.token is not None:
        headers["Authorization"] = f"Bearer {caller.token}"
    url = instance.url + f"{_path(product_id)}/images"
    try:
        async with backend.http.session.post(
            url,
            data=form,
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=backend.timeout),
        ) as answer:
            response = ServiceResponse(answer.status, dict(answer.headers), await answer.read())
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        raise BackendDown("catalog", f"the upload failed: {exc!r}") from exc
    if response.status >= 500:
        raise BackendDown("catalog", f"it answered {response.status}")
    if response.status >= 400:
        raise _api_error("catalog", response)
    return Image.model_validate_json(response.body)
