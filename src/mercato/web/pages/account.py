"""Signing up, in and out: `/register`, `/login`, `/logout`.

Each form posts to its own page. Bad input gets the form back (422, or 400 for a wrong
password) with the message beside the field and what was typed kept (never the
password); a refused post (`forms.FormRefused`) gets the form back empty with a
message (403). Signing in starts a new session (`Shopper.sign_in`) and goes back to
`next` when it is a path of this site (`errors.local_path`); logging out revokes the
tokens at auth and forgets the session, even when auth cannot be reached.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web import guest_cart
from mercato.web.api import auth
from mercato.web.api.backend import ApiError, BackendDown, Caller
from mercato.web.errors import SignInRequired, local_path
from mercato.web.forms import (
    Field,
    FormRefused,
    FormView,
    Posted,
    form_view,
    read_form,
    sentence,
)
from mercato.web.rendering import layout_of
from mercato.web.sessions import SignedIn
from mercato.web.shopper import Shopper, ShopperDep

__all__ = [
    "LOGIN_FIELDS",
    "REGISTER_FIELDS",
    "field_messages",
    "login_view",
    "logout_view",
    "missing",
    "register_view",
    "router",
]

log = logging.getLogger("mercato.web.account")
router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)

LOGIN_FIELDS = (
    Field("email", "Email", "email", "username", max_length=320),
    Field("password", "Password", "password", "current-password", max_length=1024),
)
REGISTER_FIELDS = (
    Field("name", "Name", "text", "name", max_length=200),
    Field("email", "Email", "email", "email", max_length=320),
    Field(
        "password",
        "Password",
        "password",
        "new-password",
        max_length=1024,
        hint="At least 10 characters, mixing letters with digits or symbols.",
    ),
)
WRONG_PASSWORD = "Wrong email or password."
EMAIL_TAKEN = "An account with this email already exists. Log in instead?"
WELCOME = "Welcome, {name}! Your account is ready."
LOGGED_OUT = "You have logged out."
CREATED = "Your account is ready. Please log in."
NOT_KEPT = (
    "{count} of the products you added could not stay in your cart "
    "(no longer sold, or not that many in stock)."
)


def missing(fields: Sequence[Field], posted: Posted) -> dict[str, str]:
    """`Label is required.` for each required field left empty."""
    return {
        f.name: f"{f.label} is required."
        for f in fields
        if f.required and not posted.stripped(f.name)
    }


def field_messages(exc: ApiError, fields: Sequence[Field]) -> dict[str, str]:
    """A service's field errors as sentences beside the fields they are about.

    Auth says `must be at least 10 characters long`: beside the field that reads
    `Password must be at least 10 characters long.`
    """
    labels = {f.name: f.label for f in fields}
    messages: dict[str, str] = {}
    for error in exc.errors:
        name = error.field.split(".")[0]
        if name not in labels or name in messages:
            continue
        messages[name] = sentence(labels[name], error.message)
    return messages


def login_view(
    csrf_token: str,
    *,
    next_path: str = "/",
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
) -> FormView:
    """The login form; `next_path` is where a successful login goes."""
    hidden = [("next", next_path)] if next_path != "/" else []
    return form_view(
        "login",
        LOGIN_FIELDS,
        action="/login",
        submit="Log in",
        csrf_token=csrf_token,
        values=values,
        errors=errors,
        message=message,
        hidden=hidden,
    )


def register_view(
    csrf_token: str,
    *,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
) -> FormView:
    """The form that creates an account."""
    return form_view(
        "register",
        REGISTER_FIELDS,
        action="/register",
        submit="Create account",
        csrf_token=csrf_token,
        values=values,
        errors=errors,
        message=message,
    )


def logout_view(csrf_token: str, *, message: str | None = None) -> FormView:
    """The one-button form that logs out."""
    return form_view(
        "logout", (), action="/logout", submit="Log out", csrf_token=csrf_token, message=message
    )


async def _page(
    shopper: Shopper,
    template: str,
    title: str,
    view: FormView | None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    layout = await layout_of(shopper, csrf=True)
    return shopper.ctx.templates.page(
        template, layout=layout, title=title, view=view, status=status, headers=headers
    )


# -- log in ---------------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, shopper: ShopperDep) -> Response:
    """The login form (a signed-in shopper goes straight on to `next`)."""
    next_path = local_path(request.query_params.get("next"))
    if shopper.signed_in:
        return RedirectResponse(next_path, status_code=303)
    view = login_view(await shopper.csrf_token(), next_path=next_path)
    return await _page(shopper, "account/login.html", "Log in", view)


@router.post("/login")
async def login(request: Request, shopper: ShopperDep) -> Response:
    """Check the email and password with auth, then start the shopper's session."""
    try:
        posted = await read_form(shopper)
    except FormRefused as refused:
        next_path = local_path(request.query_params.get("next"))
        view = login_view(await shopper.csrf_token(), next_path=next_path, message=refused.message)
        return await _page(shopper, "account/login.html", "Log in", view, status=403)
    next_path = local_path(posted["next"])
    values = {"email": posted.stripped("email")}
    errors = missing(LOGIN_FIELDS, posted)
    if errors:
        view = login_view(shopper.record_csrf(), next_path=next_path, values=values, errors=errors)
        return await _page(shopper, "account/login.html", "Log in", view, status=422)
    try:
        note = await _sign_in(shopper, email=values["email"], password=posted["password"])
    except ApiError as exc:
        status, message, headers = _login_refusal(exc)
        view = login_view(
            shopper.record_csrf(),
            next_path=next_path,
            values=values,
            message=message,
            errors=field_messages(exc, LOGIN_FIELDS) if exc.status == 422 else None,
        )
        return await _page(
            shopper, "account/login.html", "Log in", view, status=status, headers=headers
        )
    if note:
        await shopper.flash(note)
    return RedirectResponse(next_path, status_code=303)


def _login_refusal(exc: ApiError) -> tuple[int, str | None, dict[str, str] | None]:
    """The status, message and headers of a login auth refused."""
    if exc.status == 401:
        return 400, WRONG_PASSWORD, None
    if exc.status == 429:
        headers = {"Retry-After": exc.retry_after} if exc.retry_after else None
        return 429, exc.detail, headers
    if exc.status == 422:
        return 422, None, None
    return exc.status, exc.detail, None


async def _sign_in(shopper: Shopper, *, email: str, password: str) -> str | None:
    """Log in at auth, learn who that is, start their session, hand their cart over.

    What they added as a visitor goes to their account's cart at orders; the answer
    is the message to show when some of it could not stay there.
    """
    visitor = await shopper.visitor()
    tokens = await auth.login(visitor, email=email, password=password)
    account = await auth.me(Caller(visitor.backend, tokens.access_token, visitor.address))
    lines = shopper.guest_lines
    await shopper.sign_in(SignedIn(account.id, account.name, account.email, account.roles, tokens))
    try:
        refused = await guest_cart.hand_over(await shopper.caller(), lines)
    except (ApiError, BackendDown) as exc:
        log.warning("a visitor's cart could not be handed over at sign-in: %s", exc)
        refused = tuple(lines)
    return NOT_KEPT.format(count=len(refused)) if refused else None


# -- register ---------------------------------------------------------------------


@router.get("/register")
async def register_page(shopper: ShopperDep) -> Response:
    """The form that creates an account."""
    view = register_view(await shopper.csrf_token())
    return await _page(shopper, "account/register.html", "Create an account", view)


@router.post("/register")
async def register(shopper: ShopperDep) -> Response:
    """Create the account at auth, then sign its owner in."""
    try:
        posted = await read_form(shopper)
    except FormRefused as refused:
        view = register_view(await shopper.csrf_token(), message=refused.message)
        return await _page(shopper, "account/register.html", "Create an account", view, status=403)
    values = {"name": posted.stripped("name"), "email": posted.stripped("email")}
    errors = missing(REGISTER_FIELDS, posted)
    if errors:
        view = register_view(shopper.record_csrf(), values=values, errors=errors)
        return await _page(shopper, "account/register.html", "Create an account", view, status=422)
    try:
        account = await auth.register(
            await shopper.visitor(), password=posted["password"], **values
        )
    except ApiError as exc:
        errors = (
            {"email": EMAIL_TAKEN} if exc.status == 409 else field_messages(exc, REGISTER_FIELDS)
        )
        message = None if errors else exc.detail
        status = exc.status if exc.status in (429, 503) else 422
        view = register_view(shopper.record_csrf(), values=values, errors=errors, message=message)
        return await _page(
            shopper, "account/register.html", "Create an account", view, status=status
        )
    try:
        note = await _sign_in(shopper, email=account.email, password=posted["password"])
    except ApiError as exc:  # the account exists: its owner logs in by hand
        log.warning("a new account could not log in at once: %s", exc)
        await shopper.flash(CREATED)
        return RedirectResponse("/login", status_code=303)
    await shopper.flash(" ".join(filter(None, (WELCOME.format(name=account.name), note))))
    return RedirectResponse("/", status_code=303)


# -- log out ----------------------------------------------------------------------


@router.get("/logout")
async def logout_page(shopper: ShopperDep) -> Response:
    """A page with the button that logs out (the header has one on every page)."""
    view = logout_view(await shopper.csrf_token()) if shopper.signed_in else None
    return await _page(shopper, "account/logout.html", "Log out", view)


@router.post("/logout")
async def logout(shopper: ShopperDep) -> Response:
    """Revoke the shopper's tokens at auth and forget their session."""
    try:
        await read_form(shopper)
    except FormRefused as refused:
        view = logout_view(await shopper.csrf_token(), message=refused.message)
        return await _page(shopper, "account/logout.html", "Log out", view, status=403)
    if shopper.signed_in:
        try:
            await auth.logout(await shopper.caller())
        except (ApiError, BackendDown, SignInRequired) as exc:
            # The session is forgotten anyway: nobody holds its refresh token any more,
            # and its access token expires within minutes.
            log.warning("logout not confirmed by auth: %s", exc)
    await shopper.sign_out()
    await shopper.flash(LOGGED_OUT)
    return RedirectResponse("/", status_code=303)
