"""Pages from templates: the Jinja2 environment and the layout every page shares.

Templates hold markup only. What a page shows is a view (a dataclass built by a
function of the page's module, testable without a browser) passed as `view`; the
layout (`base.html`: the header with the shop's name, the search form, the cart and
the account links; `<main>`; the footer) reads a `Layout`, built by `layout_of` from
the shopper. Autoescaping is on for every template, and an undefined name is an
error rather than an empty string.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from mercato.web.api import orders
from mercato.web.api.backend import ApiError, BackendDown
from mercato.web.assets import Assets

if TYPE_CHECKING:
    from mercato.web.shopper import Shopper

__all__ = ["NO_STORE", "TEMPLATES_DIR", "Layout", "Templates", "layout_of"]

log = logging.getLogger("mercato.web.rendering")
TEMPLATES_DIR = Path(__file__).parent / "templates"
NO_STORE = "no-store"


@dataclass(frozen=True, slots=True)
class Layout:
    """What the layout around every page shows."""

    shop_name: str
    signed_in: bool
    name: str
    is_admin: bool
    csrf_token: str  # '' for a visitor without a session on a page without a form
    cart_count: int | None  # None: unknown or none (a visitor's empty cart, orders down)
    flash: str | None
    query: str
    path: str


async def layout_of(shopper: Shopper, *, query: str = "", csrf: bool = False) -> Layout:
    """The layout of a page for `shopper`; `csrf`: the page itself has a form."""
    # A shopper with a session gets its token on every page, for the forms there
    # (a visitor's first add to the cart started one; see `pages.product`).
    token = await shopper.csrf_token() if csrf or shopper.record is not None else ""
    count: int | None = None
    if shopper.signed_in:
        count = await _cart_count(shopper)
    elif lines := shopper.guest_lines:
        count = sum(lines.values())
    return Layout(
        shop_name=shopper.ctx.settings.shop_name,
        signed_in=shopper.signed_in,
        name=shopper.name,
        is_admin=shopper.is_admin,
        csrf_token=token,
        cart_count=count,
        flash=await shopper.take_flash(),
        query=query,
        path=shopper.request.url.path,
    )


async def _cart_count(shopper: Shopper) -> int | None:
    """How many items the cart holds, or None when orders cannot say (the badge hides)."""
    try:
        return (await orders.cart(await shopper.caller())).count
    except (ApiError, BackendDown) as exc:
        log.info("no cart count: %s", exc)
        return None


class Templates:
    """The storefront's Jinja2 environment, with `asset()` for versioned static URLs."""

    def __init__(self, assets: Assets, *, shop_name: str, directory: Path = TEMPLATES_DIR) -> None:
        self.assets = assets
        self.shop_name = shop_name
        self.env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # templates are package data: no stat() of 3 files per page
        )
        self.env.globals["asset"] = assets.url

    def render(self, template: str, **values: Any) -> str:
        """The markup of `template` with `values`."""
        return self.env.get_template(template).render(**values)

    def page(
        self,
        template: str,
        *,
        layout: Layout,
        title: str,
        view: Any = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> HTMLResponse:
        """A whole page: `template` (which extends `base.html`) around `view`.

        Pages are never stored by caches: each shows the shopper's name and its forms
        a token of their session.
        """
        body = self.render(template, layout=layout, title=title, view=view)
        sent = {"Cache-Control": NO_STORE, **(headers or {})}
        return HTMLResponse(body, status_code=status, headers=sent)
