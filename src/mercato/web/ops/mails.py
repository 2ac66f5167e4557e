"""`/ops/mails`: the mails the shop sent, one mail's text, and the templates previewed.

    GET /ops/mails?order_id=&user_id=&cursor=   the mails, newest first, paged; by order
                                                or by customer
    GET /ops/mails/templates                    every kind of mail rendered with sample
                                                values (subject, text, HTML)
    GET /ops/mails/{id}                         one mail: to whom, its subject and text

All from the notifications service's admin reads. A filter the service refuses (an id
too long, a cursor not its own: 422) says so above an empty list.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import ops_notifications
from mercato.web.api.backend import ApiError, BackendDown
from mercato.web.errors import PageNotFound
from mercato.web.ops.access import admin, refused_by_service
from mercato.web.ops.nav import ops_page
from mercato.web.ops.orders import order_href, when
from mercato.web.shopper import ShopperDep

__all__ = ["FILTERS", "MailRow", "MailView", "MailsView", "TemplatesView", "router"]

router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
FILTERS = ("order_id", "user_id")
PAGE = 20
MAX_FILTER = 64


@dataclass(frozen=True, slots=True)
class MailRow:
    """A mail as the list shows it."""

    id: str
    href: str
    kind: str
    status: str
    to: str
    subject: str
    order_id: str | None
    order_href: str | None
    sent: str


@dataclass(frozen=True, slots=True)
class MailsView:
    """The mails page: the filters and a page of mails."""

    filters: dict[str, str]
    rows: tuple[MailRow, ...] | None  # None: notifications is down
    next_href: str | None
    message: str | None = None


@dataclass(frozen=True, slots=True)
class MailView:
    """One mail."""

    row: MailRow
    user_id: str
    text: str


@dataclass(frozen=True, slots=True)
class TemplatesView:
    """Every kind of mail, previewed."""

    templates: tuple[ops_notifications.Template, ...]


def _row(mail: ops_notifications.Message) -> MailRow:
    return MailRow(
        id=mail.id,
        href=f"/ops/mails/{quote(mail.id, safe='')}",
        kind=mail.kind,
        status=mail.status,
        to=mail.to,
        subject=mail.subject,
        order_id=mail.order_id,
        order_href=order_href(mail.order_id) if mail.order_id else None,
        sent=when(mail.sent_at) if mail.sent_at else "",
    )


@router.get("/ops/mails")
async def mails_page(request: Request, shopper: ShopperDep) -> Response:
    """The mails sent, newest first, by order or customer if asked."""
    caller = await admin(shopper)
    query = request.query_params
    filters = {
        k: query.get(k, "").strip()[:MAX_FILTER] for k in FILTERS if query.get(k, "").strip()
    }
    cursor = query.get("cursor", "")[:500] or None
    rows: tuple[MailRow, ...] | None
    next_href = message = None
    status = 200
    try:
        async with refused_by_service():
            page = await ops_notifications.messages(caller, filters, limit=PAGE, cursor=cursor)
        rows = tuple(_row(m) for m in page.items)
        if page.next_cursor:
            next_href = "/ops/mails?" + urlencode({**filters, "cursor": page.next_cursor})
    except BackendDown as exc:
        rows, message = None, f"{exc.part} is unavailable right now: no mail can be listed."
    except ApiError as exc:
        if exc.status != 422:
            raise
        rows, message, status = (), f"These filters cannot be used: {exc.detail}", 422
    view = MailsView(filters, rows, next_href, message)
    return await ops_page(shopper, "ops/mails.html", "Mails", view, status=status)


@router.get("/ops/mails/templates")
async def templates_page(shopper: ShopperDep) -> Response:
    """Every kind of mail, rendered with sample values."""
    caller = await admin(shopper)
    async with refused_by_service():
        found = await ops_notifications.templates(caller)
    return await ops_page(
        shopper, "ops/mail_templates.html", "Mail templates", TemplatesView(found)
    )


@router.get("/ops/mails/{message_id}")
async def mail_page(message_id: str, shopper: ShopperDep) -> Response:
    """One mail and its text."""
    caller = await admin(shopper)
    async with refused_by_service():
        try:
            mail = await ops_notifications.message(caller, message_id)
        except ApiError as exc:
            if exc.status in (404, 422):
                raise PageNotFound(f"There is no mail {message_id}.") from exc
            raise
    view = MailView(_row(mail), mail.user_id, mail.text)
    return await ops_page(shopper, "ops/mail.html", f"Mail {mail.subject}", view)
