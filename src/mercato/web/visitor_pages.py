"""The catalogue's pages as a visitor sees them, kept as they were rendered for a few seconds.

A visitor without a session (no cookie, or one that no longer opens a session) sees
the front page, a category, search results and a product page exactly as every other
such visitor does: the layout then holds no name, no form token, no message and no
cart, and everything else comes from the catalog's public answers (`public_reads`).
So such a page is a function of its URL while those answers are kept, and its HTML
is kept with them (`MERCATO_WEB_CATALOG_CACHE_SECONDS`): the next visitor gets the
same bytes without a template being rendered. Only a whole `200` page is kept, for
a URL of at most `MAX_KEY` characters, at most 1,000 of them; a shopper with a
session (signed in, or a visitor whose form started one) always gets the page
rendered for them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.responses import HTMLResponse, Response

from mercato.web.rendering import NO_STORE
from mercato.web.shopper import COOKIE_STATE, Shopper

__all__ = ["MAX_KEY", "for_visitors"]

MAX_KEY = 512


class _NotKept(Exception):
    """A page that is not kept (not a 200, or it set a cookie): answered as it is."""

    def __init__(self, response: Response) -> None:
        super().__init__("not kept")
        self.response = response


async def for_visitors(shopper: Shopper, render: Callable[[], Awaitable[Response]]) -> Response:
    """The page `render` makes, kept for visitors without a session (see the module)."""
    request = shopper.request
    key = request.url.path + ("?" + request.url.query if request.url.query else "")
    if shopper.record is not None or request.method != "GET" or len(key) > MAX_KEY:
        return await render()

    async def rendered() -> bytes:
        response = await render()
        if response.status_code != 200 or request.scope.get("state", {}).get(COOKIE_STATE):
            raise _NotKept(response)
        return bytes(response.body)

    try:
        body = await shopper.ctx.public.pages.get(key, rendered)
    except _NotKept as exc:
        return exc.response
    return HTMLResponse(body, headers={"Cache-Control": NO_STORE})
