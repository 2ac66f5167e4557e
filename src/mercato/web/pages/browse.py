"""Browsing the catalogue: `/category/{slug}`, `/search`, and `/suggest` for the search box.

A category and the search results are the same listing page (`listing`): sorting,
facets with their counts, the filters in use, paging; everything in the URL. The
catalog's answers come through `PublicReads` (the same for every shopper, kept a few
seconds). An unknown category is the 404 page; a link to a page of results that the
catalog cannot continue (a cursor of another order, or garbled) is a 400 page that
says so; the catalog down is the 503 page naming it.

`/suggest?q=` answers a few product titles and links as JSON for the search box's
as-you-type suggestions (`static/shop.js`), or an empty list with 503 when the
catalog is down: the box then simply suggests nothing.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import catalog
from mercato.web.api.backend import ApiError, BackendDown
from mercato.web.error_pages import error_page, error_view
from mercato.web.errors import PageNotFound
from mercato.web.listing import Browse, ListingView, listing_view, product_url
from mercato.web.rendering import layout_of
from mercato.web.shopper import Shopper, ShopperDep
from mercato.web.visitor_pages import for_visitors

__all__ = ["SUGGESTIONS", "router", "suggestions"]

log = logging.getLogger("mercato.web.browse")
router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
SUGGESTIONS = 6
MIN_SUGGEST = 2  # characters typed before anything is suggested
BAD_CURSOR = "That link to a page of results no longer works. Please search again."


async def _listing_page(
    request: Request, shopper: Shopper, browse: Browse, *, category: str | None, heading: str
) -> Response:
    path = request.url.path
    try:
        answer = await shopper.ctx.public.products(browse.listing(category=category))
    except ApiError as exc:
        if exc.status != 422:
            raise
        log.info("a listing the catalog refused: %s", exc)
        return await error_page(request, error_view(400, BAD_CURSOR))
    view: ListingView = listing_view(browse, answer, path=path, heading=heading)
    layout = await layout_of(shopper, query=browse.q)
    return shopper.ctx.templates.page("shop/listing.html", layout=layout, title=heading, view=view)


@router.get("/category/{slug}")
async def category_page(request: Request, slug: str, shopper: ShopperDep) -> Response:
    """The products of one category, with sorting, facets and paging."""

    async def page() -> Response:
        found = await shopper.ctx.public.category(slug)
        if found is None:
            raise PageNotFound("There is no such category. It may have been renamed.")
        browse = Browse.from_query(request.query_params)
        return await _listing_page(
            request, shopper, browse, category=found.slug, heading=found.name
        )

    return await for_visitors(shopper, page)


@router.get("/search")
async def search_page(request: Request, shopper: ShopperDep) -> Response:
    """Search results (every product without words), with sorting, facets and paging."""
    browse = Browse.from_query(request.query_params)
    heading = f"Results for “{browse.q}”" if browse.q else "All products"
    return await for_visitors(
        shopper,
        lambda: _listing_page(request, shopper, browse, category=None, heading=heading),
    )


def suggestions(answer: catalog.ProductList) -> list[dict[str, str]]:
    """The titles and links the search box suggests."""
    return [{"title": p.title, "url": product_url(p.id)} for p in answer.items[:SUGGESTIONS]]


@router.get("/suggest")
async def suggest(request: Request, shopper: ShopperDep) -> Response:
    """A few products matching what is typed so far, as JSON for the search box."""
    q = " ".join(request.query_params.get("q", "").split())[:200]
    headers = {"Cache-Control": "private, max-age=30"}  # the same for everyone, briefly
    if len(q) < MIN_SUGGEST:
        return JSONResponse({"q": q, "items": [], "search": "/search"}, headers=headers)
    search = "/search?" + urlencode({"q": q})
    try:
        answer = await shopper.ctx.public.products(catalog.Listing(q=q, limit=SUGGESTIONS))
    except (ApiError, BackendDown) as exc:
        log.info("no suggestions for the search box: %s", exc)
        return JSONResponse({"q": q, "items": [], "search": search}, status_code=503)
    return JSONResponse({"q": q, "items": suggestions(answer), "search": search}, headers=headers)
