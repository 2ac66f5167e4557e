"""The console's pages share a layout: the shop's, with the console's own navigation.

`ops_page` renders a console template (which extends `ops/layout.html`: the
navigation between System, Dead letters, Orders, Catalog, Shipments, Returns,
Discounts, Mails and the Audit log, the console's stylesheet and script) for an
administrator, with the CSRF token of the
session in the layout when the page has a form.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from mercato.web.rendering import layout_of
from mercato.web.shopper import Shopper

__all__ = ["ops_page"]


async def ops_page(
    shopper: Shopper,
    template: str,
    title: str,
    view: Any,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A console page: `template` around `view`, titled `title` (and "Operations")."""
    layout = await layout_of(shopper, csrf=True)
    return shopper.ctx.templates.page(
        template,
        layout=layout,
        title=f"{title} · Operations",
        view=view,
        status=status,
        headers=headers,
    )
