"""`/account/mails`: the shopper's mails and which kinds of mail they want.

The page has the "Mail preferences" form (a checkbox per kind; "Welcome to your
account" is always sent, so its box is checked and cannot be changed) and "Your
mails", newest first, a page at a time: each mail's subject (a link to its text on
`/account/mails/{id}`), when it was sent and its kind. Another shopper's mail, or one
that does not exist, is the 404 page (notifications answers 404 for both).

Saving the preferences (`POST /account/mails/preferences`) sends every kind that may
be turned off, on when its box was posted checked, and comes back with a message; a
refused post (CSRF, another site) shows the page again with the form's message (403).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import notifications
from mercato.web.api.backend import ApiError, Caller
from mercato.web.forms import FormRefused, read_form
from mercato.web.order_view import order_url, when
from mercato.web.rendering import layout_of
from mercato.web.shopper import Shopper, ShopperDep

__all__ = ["KINDS", "SAVED", "MailRow", "MailsView", "kind_word", "router"]

log = logging.getLogger("mercato.web.mails")
router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
PAGE = 20
SAVED = "Your mail preferences are saved."
KINDS: dict[str, str] = {
    "account_created": "Welcome to your account",
    "order_confirmed": "Order confirmed",
    "payment_failed": "Payment failed",
    "shipment_shipped": "Order shipped",
    "shipment_delivered": "Order delivered",
    "refund_issued": "Refund issued",
}
MAILS = "/account/mails"


def kind_word(kind: str) -> str:
    """What a kind of mail is called on the page."""
    return KINDS.get(kind, kind.replace("_", " ").capitalize())


def mail_url(message_id: str) -> str:
    """A mail's page."""
    return f"{MAILS}/{quote(message_id, safe='')}"


@dataclass(frozen=True, slots=True)
class KindChoice:
    """A kind of mail in the preferences form."""

    kind: str
    label: str
    on: bool
    locked: bool  # always sent: shown checked, cannot be changed


@dataclass(frozen=True, slots=True)
class MailRow:
    """A mail in the list."""

    url: str
    subject: str
    sent: str
    iso: str
    kind: str
    skipped: bool


@dataclass(frozen=True, slots=True)
class MailsView:
    """What `/account/mails` shows."""

    choices: tuple[KindChoice, ...]
    rows: tuple[MailRow, ...]
    next_url: str | None
    first_url: str | None
    csrf_token: str
    message: str | None = None


def mails_view(
    prefs: notifications.Preferences,
    page: notifications.MessagePage,
    *,
    cursor: str | None,
    csrf_token: str,
    message: str | None = None,
) -> MailsView:
    """The page of the preferences and one page of mails."""
    kinds = list(KINDS) + [k for k in prefs.kinds if k not in KINDS]
    choices = tuple(
        KindChoice(
            k, kind_word(k), prefs.kinds.get(k, True) or k in prefs.always_on, k in prefs.always_on
        )
        for k in kinds
        if k in prefs.kinds or k in prefs.always_on
    )
    rows = tuple(
        MailRow(
            mail_url(m.id),
            m.subject,
            when(m.sent_at),
            m.sent_at.isoformat(),
            kind_word(m.kind),
            m.status == "skipped",
        )
        for m in page.items
    )
    next_url = f"{MAILS}?{urlencode({'after': page.next_cursor})}" if page.next_cursor else None
    return MailsView(choices, rows, next_url, MAILS if cursor else None, csrf_token, message)


async def _page(
    shopper: Shopper,
    caller: Caller,
    *,
    cursor: str | None = None,
    status: int = 200,
    message: str | None = None,
) -> Response:
    prefs = await notifications.preferences(caller)
    page = await notifications.messages(caller, limit=PAGE, cursor=cursor)
    layout = await layout_of(shopper)
    view = mails_view(prefs, page, cursor=cursor, csrf_token=layout.csrf_token, message=message)
    return shopper.ctx.templates.page(
        "account/mails.html", layout=layout, title="Your mails", view=view, status=status
    )


@router.get(MAILS)
async def mails(request: Request, shopper: ShopperDep) -> Response:
    """The mail preferences and the shopper's mails, newest first."""
    caller = await shopper.customer()
    cursor = request.query_params.get("after") or None
    try:
        return await _page(shopper, caller, cursor=cursor)
    except ApiError as exc:
        if exc.status != 422 or cursor is None:
            raise
        return RedirectResponse(MAILS, status_code=303)  # a stale link: the first page


@router.post(f"{MAILS}/preferences")
async def save_preferences(shopper: ShopperDep) -> Response:
    """Turn each kind of mail on or off as its box was posted."""
    caller = await shopper.customer()
    try:
        posted = await read_form(shopper)
    except FormRefused as refused:
        log.info("a mail preferences post refused: %s", refused.reason)
        return await _page(shopper, caller, status=403, message=refused.message)
    prefs = await notifications.preferences(caller)
    changes = {k: posted[k] == "on" for k in prefs.kinds if k not in prefs.always_on}
    await notifications.preferences(caller, changes)
    await shopper.flash(SAVED)
    return RedirectResponse(MAILS, status_code=303)


@dataclass(frozen=True, slots=True)
class MailView:
    """One mail as its page shows it."""

    subject: str
    sent: str
    iso: str
    kind: str
    to: str
    text: str
    skipped: bool
    order_url: str | None


@router.get(f"{MAILS}/{{message_id}}")
async def mail(message_id: str, shopper: ShopperDep) -> Response:
    """One of the shopper's mails with its text."""
    caller = await shopper.customer()
    m = await notifications.message(caller, message_id)
    view = MailView(
        m.subject,
        when(m.sent_at),
        m.sent_at.isoformat(),
        kind_word(m.kind),
        m.to,
        m.text,
        m.status == "skipped",
        order_url(m.order_id) if m.order_id else None,
    )
    layout = await layout_of(shopper)
    templates = shopper.ctx.templates
    return templates.page("account/mail.html", layout=layout, title=m.subject, view=view)
