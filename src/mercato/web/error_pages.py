"""Every error of the storefront as an HTML page that says what happened, never JSON.

`install_error_pages(app)` replaces the chassis' problem+json handlers on the app:

    SignInRequired     303 to the login page (and `next` back); after a sign-in that
                       ended, a message saying so
    PageNotFound, 404  the 404 page
    BackendDown        503: which part of the shop is unavailable, try again later
    ApiError           a service's refusal the page did not handle: 401 signs the
                       shopper out (their token was revoked) and asks them to log in
                       again; 404 the 404 page; any other its status and detail
    FormRefused        403: the form could not be accepted, go back and try again
    anything else      500: something went wrong on our side (logged, no trace shown)

`HtmlProblems` catches what the chassis' request middleware answers itself before
any route runs (413 body too large, 400 for a NUL in the URL) and renders that page
instead of its problem document.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mercato.chassis.web.errors import PROBLEM_JSON, ProblemError, allowed_methods
from mercato.web.api.backend import ApiError, BackendDown
from mercato.web.errors import PageNotFound, SignInRequired
from mercato.web.forms import FormRefused
from mercato.web.rendering import Layout, Templates, layout_of
from mercato.web.shopper import shopper_of

__all__ = ["ErrorView", "HtmlProblems", "error_view", "install_error_pages"]

log = logging.getLogger("mercato.web.errors")
ENDED = "Your session has ended. Please log in again."
TITLES = {
    400: "That request could not be understood",
    403: "That could not be accepted",
    404: "Page not found",
    405: "That cannot be done here",
    413: "That was too large",
    429: "Too many requests",
    500: "Something went wrong",
    503: "Temporarily unavailable",
}


@dataclass(frozen=True, slots=True)
class ErrorView:
    """What an error page says: a heading, an explanation, and where to go next."""

    status: int
    heading: str
    detail: str
    retry: bool = False  # whether trying again later may work


def error_view(status: int, detail: str = "") -> ErrorView:
    """The view of an error page of `status`."""
    heading = TITLES.get(status, "Something went wrong" if status >= 500 else "That did not work")
    defaults = {
        404: "We could not find that page. It may have moved, or the address may be mistyped.",
        500: "Something went wrong on our side. Please try again in a moment.",
    }
    text = detail or defaults.get(status, heading + ".")
    return ErrorView(status, heading, text, retry=status in (429, 503))


def unavailable_view(exc: BackendDown) -> ErrorView:
    """The 503 page of a service that is down, naming the part of the shop it is."""
    return ErrorView(
        503,
        f"{exc.part} is unavailable",
        f"{exc.part} is unavailable right now. The rest of the shop still works; "
        "please try again in a few moments.",
        retry=True,
    )


def _anonymous_layout(templates: Templates, path: str) -> Layout:
    return Layout(templates.shop_name, False, "", False, "", None, None, "", path)


async def _layout(request: Request) -> Layout:
    """The layout for an error page: the shopper's if it can be had, else a visitor's."""
    try:
        shopper = await shopper_of(request)
        return await layout_of(shopper)
    except Exception as exc:  # the error page must not fail on what failed the page
        log.info("an error page without the shopper's layout: %s", exc)
        return _anonymous_layout(_templates(request), request.url.path)


def _templates(request: Request) -> Templates:
    templates: Templates = request.app.state.runtime.context.templates
    return templates


async def error_page(
    request: Request, view: ErrorView, headers: dict[str, str] | None = None
) -> Response:
    """The HTML page of `view`, with its status."""
    layout = await _layout(request)
    return _templates(request).page(
        "errors/error.html",
        layout=layout,
        title=view.heading,
        view=view,
        status=view.status,
        headers=headers,
    )


async def _on_sign_in(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInRequired)
    if exc.ended:
        await (await shopper_of(request)).flash(ENDED)
    return RedirectResponse(exc.location, status_code=303, headers={"Cache-Control": "no-store"})


async def _on_not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageNotFound)
    return await error_page(request, error_view(404, exc.detail))


async def _on_backend_down(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BackendDown)
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    return await error_page(request, unavailable_view(exc), {"Retry-After": "5"})


async def _on_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if exc.status == 401:
        shopper = await shopper_of(request)
        await shopper.sign_out()
        return await _on_sign_in(request, SignInRequired(request, ended=True))
    if exc.status in (403, 404):  # another's, or gone: the same to the shopper
        return await error_page(request, error_view(404))
    headers = {"Retry-After": exc.retry_after} if exc.retry_after else None
    return await error_page(request, error_view(exc.status, exc.detail), headers)


async def _on_form_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, FormRefused)
    log.info("form refused on %s: %s", request.url.path, exc.reason)
    return await error_page(request, error_view(403, exc.message))


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    detail = "" if exc.status_code in (404, 405) else str(exc.detail)
    return await error_page(request, error_view(exc.status_code, detail), headers)


async def _on_validation(request: Request, exc: Exception) -> Response:
    return await error_page(request, error_view(400, "Part of that address is not valid."))


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return await error_page(request, error_view(exc.status, exc.detail), exc.headers)


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return await error_page(request, error_view(500))


def install_error_pages(app: FastAPI) -> None:
    """Make every error of `app` an HTML page (replacing the chassis' handlers)."""
    app.add_exception_handler(SignInRequired, _on_sign_in)
    app.add_exception_handler(PageNotFound, _on_not_found)
    app.add_exception_handler(BackendDown, _on_backend_down)
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(FormRefused, _on_form_refused)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(Exception, _on_unexpected)


class HtmlProblems:
    """Pure-ASGI middleware: a problem document answered outside the routes, as a page.

    The chassis' request middleware refuses some requests itself (413, a NUL in the
    URL) with problem+json; for a browser that is the page of that status.
    """

    def __init__(self, app: ASGIApp, *, templates: Templates) -> None:
        self.app = app
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: Message | None = None

        async def intercept(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(PROBLEM_JSON.encode()):
                    start = message
                    return
            elif start is not None and message["type"] == "http.response.body":
                if not message.get("more_body", False):
                    await self._page(scope, receive, send, start, message.get("body", b""))
                return
            await send(message)

        await self.app(scope, receive, intercept)

    async def _page(
        self, scope: Scope, receive: Receive, send: Send, start: Message, body: bytes
    ) -> None:
        status = int(start["status"])
        try:
            detail = str(orjson.loads(body).get("detail", ""))
        except (orjson.JSONDecodeError, AttributeError):
            detail = ""
        kept = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in start.get("headers", [])
            if k.lower() in (b"retry-after", b"x-request-id", b"allow")
        }
        layout = _anonymous_layout(self.templates, scope.get("path", "/"))
        view = error_view(status, detail)
        page = self.templates.page(
            "errors/error.html",
            layout=layout,
            title=view.heading,
            view=view,
            status=status,
            headers=kept,
        )
        await page(scope, receive, send)
