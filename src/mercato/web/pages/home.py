"""`/`: the shop's front page."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from starlette.responses import Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.rendering import layout_of
from mercato.web.shopper import ShopperDep

__all__ = ["HomeView", "home_view", "router"]

router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)


@dataclass(frozen=True, slots=True)
class HomeView:
    """What the front page shows."""

    heading: str
    text: str


def home_view(shop_name: str, name: str) -> HomeView:
    """The front page's greeting, by name for a signed-in shopper."""
    heading = f"Welcome back, {name}" if name else f"Welcome to {shop_name}"
    return HomeView(heading, "Find something you like: search the catalogue above.")


@router.get("/")
async def home(shopper: ShopperDep) -> Response:
    """The front page."""
    layout = await layout_of(shopper)
    view = home_view(layout.shop_name, shopper.name)
    return shopper.ctx.templates.page("home.html", layout=layout, title="Home", view=view)
