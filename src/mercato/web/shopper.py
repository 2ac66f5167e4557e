"""The shopper of a request: their session, their caller for the API, their cookie.

`ShopperDep` gives a page the `Shopper`: who is signed in (if anyone), a `Caller` with
a fresh access token (`caller()`), the CSRF token of its forms (`csrf_token()`, which
starts a visitor's session when there is none), and signing in and out. A change of
the session cookie is left in the request's state and written onto whatever answer the
request gets, error pages included (`edge.SessionCookies`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request

from mercato.chassis.security.client_addresses import client_address
from mercato.web import guest_cart
from mercato.web.api.backend import Caller
from mercato.web.context import WebContext
from mercato.web.errors import PageNotFound, SignInRequired
from mercato.web.models import SessionRecord
from mercato.web.sealing import Seal
from mercato.web.sessions import COOKIE, SECURE_COOKIE, SessionEnded, SignedIn, seal_of

__all__ = ["COOKIE_STATE", "Shopper", "ShopperDep", "is_secure", "shopper_of"]

COOKIE_STATE = "web.set_cookie"  # the Set-Cookie value for SessionCookies to send
_SHOPPER_STATE = "web.shopper"


def is_secure(request: Request, forced: bool | None) -> bool:
    """Whether the shopper's browser reached the shop over HTTPS (so cookies are Secure)."""
    if forced is not None:
        return forced
    proto = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return proto == "https" or request.url.scheme == "https"


class Shopper:
    """One request's shopper: a visitor, or a signed-in customer or administrator."""

    def __init__(
        self,
        request: Request,
        ctx: WebContext,
        record: SessionRecord | None,
        seal: Seal | None = None,
    ) -> None:
        self.request = request
        self.ctx = ctx
        self.record = record
        self._seal = seal  # opens the session's tokens; from the cookie it came with
        self.secure = is_secure(request, ctx.settings.secure_cookies)
        self._address: str | None = None

    # -- who --------------------------------------------------------------------

    @property
    def signed_in(self) -> bool:
        """Whether a customer (or an administrator) is signed in."""
        return self.record is not None and self.record.user_id is not None

    @property
    def name(self) -> str:
        """The signed-in shopper's name ('' for a visitor)."""
        return self.record.user_name if self.record is not None and self.signed_in else ""

    @property
    def user_id(self) -> str | None:
        """The signed-in shopper's account id."""
        return self.record.user_id if self.record is not None else None

    @property
    def roles(self) -> frozenset[str]:
        """The signed-in shopper's roles (none for a visitor)."""
        if self.record is None or not self.signed_in:
            return frozenset()
        return frozenset(filter(None, self.record.roles.split(",")))

    @property
    def is_admin(self) -> bool:
        """Whether an administrator is signed in."""
        return "admin" in self.roles

    @property
    def guest_lines(self) -> dict[str, int]:
        """A visitor's cart, product id to quantity (none for a signed-in shopper's)."""
        if self.record is None or self.signed_in:
            return {}
        return guest_cart.lines_of(self.record.cart)

    # -- calls ------------------------------------------------------------------

    async def address(self) -> str:
        """The shopper's address, as the gateway proved it (`chassis.security.client_addresses`)."""
        if self._address is None:
            self._address = await client_address(self.request)
        return self._address

    async def visitor(self) -> Caller:
        """A caller without the shopper's token (logging in, registering)."""
        return Caller(self.ctx.backend, None, await self.address())

    async def caller(self) -> Caller:
        """The shopper's caller: their fresh access token (none for a visitor), their address.

        SignInRequired when their sign-in has ended (auth refused the refresh token).
        """
        address = await self.address()
        visitor = Caller(self.ctx.backend, None, address)
        if self.record is None or not self.signed_in:
            return visitor
        assert self._seal is not None  # a signed-in record came with its cookie
        try:
            token = await self.ctx.sessions.access_token(self.record, visitor, self._seal)
        except SessionEnded:
            self.record = None
            self._set_cookie(None)
            raise SignInRequired(self.request, ended=True) from None
        return Caller(self.ctx.backend, token, address)

    async def customer(self) -> Caller:
        """The caller of a page for signed-in shoppers only (SignInRequired for a visitor)."""
        if not self.signed_in:
            raise SignInRequired(self.request)
        return await self.caller()

    async def admin(self) -> Caller:
        """The caller of a page for administrators only (the operations console).

        A visitor is sent to log in; a signed-in customer gets the 404 page, as for
        anything that is not theirs (the page does not say what it hides).
        """
        caller = await self.customer()
        if not self.is_admin:
            raise PageNotFound
        return caller

    # -- the session ------------------------------------------------------------

    async def session(self) -> SessionRecord:
        """The shopper's session, started now for a visitor who has none."""
        if self.record is None:
            value, self.record = await self.ctx.sessions.start()
            self._seal = seal_of(value)
            self._set_cookie(value)
        return self.record

    async def csrf_token(self) -> str:
        """The secret every form of this shopper carries (`forms.CSRF_FIELD`)."""
        return (await self.session()).csrf_secret

    def record_csrf(self) -> str:
        """The CSRF token of the session a post came with (`forms.read_form` checked it)."""
        return self.record.csrf_secret if self.record is not None else ""

    async def sign_in(self, signed_in: SignedIn) -> None:
        """Start the signed-in session (a new id: a session fixed before cannot be used)."""
        if self.record is not None:
            await self.ctx.sessions.end(self.record)
        value, self.record = await self.ctx.sessions.start(signed_in)
        self._seal = seal_of(value)
        self._set_cookie(value)

    async def sign_out(self) -> None:
        """Forget the session and the cookie."""
        if self.record is not None:
            await self.ctx.sessions.end(self.record)
        self.record = self._seal = None
        self._set_cookie(None)

    async def rename(self, name: str) -> None:
        """Show the shopper's new name from now on (users has just stored it)."""
        if self.record is not None and self.signed_in:
            await self.ctx.sessions.rename(self.record, name)

    async def keep_guest_lines(self, lines: Mapping[str, int]) -> None:
        """Keep a visitor's cart in their session (started now if they have none)."""
        await self.ctx.sessions.keep_cart(await self.session(), guest_cart.dump(lines))

    async def flash(self, message: str) -> None:
        """Show `message` on the next page."""
        await self.ctx.sessions.flash(await self.session(), message)

    async def take_flash(self) -> str | None:
        """The message left for this page, cleared so that it shows once."""
        if self.record is None or not self.record.flash:
            return None
        message = self.record.flash
        await self.ctx.sessions.flash(self.record, None)
        return message

    def _set_cookie(self, value: str | None) -> None:
        """Send the session cookie (None: delete it) with this request's answer."""
        name = SECURE_COOKIE if self.secure else COOKIE
        attributes = "Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if self.secure else "")
        if value is None:
            cookie = f"{name}=; Max-Age=0; {attributes}"
        else:
            age = self.ctx.settings.session_absolute_seconds
            cookie = f"{name}={value}; Max-Age={age}; {attributes}"
        self.request.scope.setdefault("state", {})[COOKIE_STATE] = cookie


async def shopper_of(request: Request) -> Shopper:
    """FastAPI dependency: the request's shopper (found once per request)."""
    state = request.scope.setdefault("state", {})
    found = state.get(_SHOPPER_STATE)
    if isinstance(found, Shopper):
        return found
    ctx: WebContext = request.app.state.runtime.context
    secure = is_secure(request, ctx.settings.secure_cookies)
    value = request.cookies.get(SECURE_COOKIE if secure else COOKIE)
    record = await ctx.sessions.find(value)
    seal = Seal(value, record.id_hash) if record is not None and value else None
    shopper = Shopper(request, ctx, record, seal)
    state[_SHOPPER_STATE] = shopper
    return shopper


ShopperDep = Annotated[Shopper, Depends(shopper_of)]
