"""What the storefront puts around the chassis' app: headers, cookies, static files.

The chassis builds the web service's app as any service's (`chassis.web.app`, with
this `Edge`); the layers, outermost first:

    PageHeaders        the security headers on every answer: a strict
                       Content-Security-Policy (no inline script or style, nothing
                       from another origin), nosniff, Referrer-Policy, Permissions-
                       Policy, X-Frame-Options; `no-store` unless a route said otherwise
    HtmlProblems       a problem document the request middleware answered, as a page
    RequestMiddleware  the chassis: ids, trace context, 413, access log, metrics
    SessionCookies     the session cookie a page set or cleared, on whatever answer
    (router)           the pages, `/static/...`, health and metrics
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mercato.web.assets import Assets
from mercato.web.error_pages import HtmlProblems
from mercato.web.rendering import Templates
from mercato.web.shopper import COOKIE_STATE

__all__ = ["CONTENT_SECURITY_POLICY", "PAGE_HEADERS", "PageHeaders", "SessionCookies", "WebEdge"]

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
PAGE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    # `same-origin`, not `no-referrer`: with no-referrer a browser sends `Origin: null`
    # on a form's POST, and the CSRF check reads the Origin.
    (b"referrer-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)
_REPLACED = frozenset(name for name, _ in PAGE_HEADERS)


class PageHeaders:
    """Pure-ASGI middleware: the storefront's security headers on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() not in _REPLACED]
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = [*headers, *PAGE_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


class SessionCookies:
    """Pure-ASGI middleware: the `Set-Cookie` a page left in the request's state."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = scope.get("state", {}).get(COOKIE_STATE)
                if cookie:
                    headers = list(message.get("headers", []))
                    headers.append((b"set-cookie", cookie.encode("latin-1")))
                    message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_cookie)


class WebEdge:
    """The storefront's layers and static files around the chassis' app."""

    head_as_get = True
    # Behind the gateway, which begins every request's trace: the storefront continues it.
    trust_traceparent = True

    def __init__(self, assets: Assets, templates: Templates) -> None:
        self.assets = assets
        self.templates = templates

    def routes(self) -> Sequence[BaseRoute]:
        """`/static/<versioned name>`: the storefront's own CSS, JavaScript and icons."""
        return [Route("/static/{name:path}", self.assets.endpoint, methods=["GET"])]

    def around(self, front: ASGIApp) -> ASGIApp:
        """Security headers, then problem documents as pages, outside the middleware."""
        return PageHeaders(HtmlProblems(front, templates=self.templates))

    def within(self, routed: ASGIApp) -> ASGIApp:
        """The session cookie on every answer the routes give."""
        return SessionCookies(routed)

    def upload_routes(self) -> Sequence[str]:
        """No route of its own takes a file beyond the spec's."""
        return ()

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Nothing of its own to open: the context holds the backend and the sessions."""
        yield
