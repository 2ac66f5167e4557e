"""`/`: the shop's front page: a greeting, the categories and a few featured products.

The catalogue's parts come from `PublicReads` (kept a few seconds). When the catalog
cannot answer, the front page still shows, saying that the catalogue is unavailable:
the header, the cart and the account links work without it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from fastapi import APIRouter
from starlette.responses import Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import catalog
from mercato.web.api.backend import BackendDown
from mercato.web.listing import ProductCard, category_url, product_card
from mercato.web.rendering import layout_of
from mercato.web.shopper import Shopper, ShopperDep
from mercato.web.visitor_pages import for_visitors

__all__ = ["FEATURED", "CategoryLink", "HomeView", "home_view", "router"]

log = logging.getLogger("mercato.web.home")
router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
FEATURED = catalog.Listing(sort="newest", limit=8)
UNAVAILABLE = "The catalogue is unavailable right now. Please try again in a few moments."


@dataclass(frozen=True, slots=True)
class CategoryLink:
    """A category in the list: its name, page and number of products."""

    name: str
    url: str
    count: int


@dataclass(frozen=True, slots=True)
class HomeView:
    """What the front page shows."""

    heading: str
    text: str
    categories: tuple[CategoryLink, ...]
    featured: tuple[ProductCard, ...]
    unavailable: str | None  # the catalogue could not be read: say so


def home_view(
    shop_name: str,
    name: str,
    categories: tuple[catalog.Category, ...] = (),
    featured: tuple[catalog.Product, ...] = (),
    *,
    unavailable: bool = False,
) -> HomeView:
    """The front page: the greeting (by name for a signed-in shopper) and the catalogue."""
    heading = f"Welcome back, {name}" if name else f"Welcome to {shop_name}"
    return HomeView(
        heading,
        "Find something you like: browse a category or search the catalogue above.",
        tuple(CategoryLink(c.name, category_url(c.slug), c.product_count) for c in categories),
        tuple(product_card(p) for p in featured),
        UNAVAILABLE if unavailable else None,
    )


@router.get("/")
async def home(shopper: ShopperDep) -> Response:
    """The front page (kept for visitors: `visitor_pages`)."""
    return await for_visitors(shopper, lambda: _home(shopper))


async def _home(shopper: Shopper) -> Response:
    layout = await layout_of(shopper)
    public = shopper.ctx.public
    try:
        categories = await public.categories()
        featured = (await public.products(FEATURED)).items
        view = home_view(layout.shop_name, shopper.name, categories, featured)
    except BackendDown as exc:
        log.info("the front page without the catalogue: %s", exc)
        view = home_view(layout.shop_name, shopper.name, unavailable=True)
    return shopper.ctx.templates.page("home.html", layout=layout, title="Home", view=view)
