"""Who may use the console: administrators, checked here and again by every service.

`admin(shopper)` is the first line of every console route: a visitor goes to the
login page (and comes back), a signed-in customer gets the 403 page; an administrator
gets their `Caller`, whose token every API the console calls checks once more (the
services refuse a customer's token whatever this service decides).

`admin_form(shopper)` is the same for a post, and then reads the form (CSRF checked
by `forms.read_form`): a customer's session posting to a console form directly is
refused before its body is read. `refused_by_service` turns a service's 403 into the
console's 403 page (the storefront's pages show a 403 as "not found"), for an
administrator whose role a service does not see in their token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.exceptions import HTTPException

from mercato.web.api.backend import ApiError, Caller
from mercato.web.errors import SignInRequired
from mercato.web.forms import Posted, read_form
from mercato.web.shopper import Shopper

__all__ = ["ADMINS_ONLY", "SERVICE_REFUSED", "admin", "admin_form", "refused_by_service"]

ADMINS_ONLY = "The operations console is for administrators only."
SERVICE_REFUSED = "The service refused this for your account: it needs an administrator's role."


def _check(shopper: Shopper) -> None:
    if not shopper.signed_in:
        raise SignInRequired(shopper.request)
    if not shopper.is_admin:
        raise HTTPException(403, ADMINS_ONLY)


async def admin(shopper: Shopper) -> Caller:
    """The administrator's caller (SignInRequired for a visitor, 403 for anyone else)."""
    _check(shopper)
    return await shopper.caller()


async def admin_form(shopper: Shopper) -> tuple[Caller, Posted]:
    """The administrator's caller and the fields they posted (CSRF checked)."""
    _check(shopper)
    posted = await read_form(shopper)
    return await shopper.caller(), posted


@asynccontextmanager
async def refused_by_service() -> AsyncIterator[None]:
    """A service's 403 as the console's 403 page (any other error goes on)."""
    try:
        yield
    except ApiError as exc:
        if exc.status == 403:
            raise HTTPException(403, SERVICE_REFUSED) from exc
        raise
