"""`/ops/audit`: the audit log, filtered by type, subject, order, user and time.

`GET /ops/audit?type=order.*&subject=&order_id=&user_id=&since=&until=&cursor=` is
one page of the logs service's `GET /api/logs/events` with the same filters, in the
order the events occurred, and a link to the next page that keeps them. The form is
a GET form (a search changes nothing, so it needs no token, and its URL can be
shared). Times are UTC: a browser's `datetime-local` value (`2026-01-01T12:00`) or
any ISO 8601 time with its offset. A filter the log refuses gets the form back with
the reason beside the field (422).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import ops_logs
from mercato.web.api.backend import ApiError
from mercato.web.forms import Field, FieldView
from mercato.web.ops.access import admin, refused_by_service
from mercato.web.ops.nav import ops_page
from mercato.web.ops.orders import order_href, when
from mercato.web.shopper import ShopperDep

__all__ = ["FILTERS", "AuditView", "audit_view", "parse_time", "read_filters", "router"]

router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
PAGE_SIZE = 50
FILTERS = (
    Field(
        "type",
        "Event type",
        required=False,
        max_length=200,
        hint="A type (order.placed), or a prefix ending in * (order.*).",
    ),
    Field("subject", "Subject", required=False, max_length=200, hint="The aggregate's id."),
    Field("order_id", "Order", required=False, max_length=200),
    Field("user_id", "User", required=False, max_length=200),
    Field("since", "From (UTC)", "datetime-local", required=False),
    Field("until", "Until (UTC)", "datetime-local", required=False),
)
TIMES = ("since", "until")
BAD_TIME = "{label} must be a date and time, e.g. 2026-01-31T18:30."


def parse_time(text: str) -> datetime | None:
    """A time typed in the form (naive: UTC); None when it is not one."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def read_filters(query: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """The filters given (as typed), and the errors of those that are not valid."""
    values = {f.name: query.get(f.name, "").strip()[:200] for f in FILTERS}
    errors = {
        f.name: BAD_TIME.format(label=f.label)
        for f in FILTERS
        if f.name in TIMES and values[f.name] and parse_time(values[f.name]) is None
    }
    return {k: v for k, v in values.items() if v}, errors


def _api_filters(given: Mapping[str, str]) -> dict[str, str]:
    """The filters as the logs API takes them (times in UTC, ISO 8601)."""
    sent = dict(given)
    for name in TIMES:
        if name in sent:
            moment = parse_time(sent[name])
            assert moment is not None
            sent[name] = moment.isoformat()
    return sent


@dataclass(frozen=True, slots=True)
class EventRow:
    """An event in the list."""

    at: str
    type: str
    source: str
    subject: str
    order_href: str | None
    order_id: str | None
    user_id: str | None
    data: str  # indented JSON


@dataclass(frozen=True, slots=True)
class AuditView:
    """The audit log page: the filters (as typed) and a page of events."""

    fields: tuple[FieldView, ...]
    events: tuple[EventRow, ...]
    next_href: str | None
    filtered: bool
    message: str | None = None


def audit_view(
    given: Mapping[str, str],
    page: ops_logs.AuditPage | None,
    *,
    errors: Mapping[str, str] | None = None,
    message: str | None = None,
) -> AuditView:
    """The page of `page`'s events found with the filters `given`."""
    errors = errors or {}
    fields = tuple(
        FieldView(f, given.get(f.name, ""), errors.get(f.name), "audit") for f in FILTERS
    )
    rows: tuple[EventRow, ...] = ()
    next_href = None
    if page is not None:
        rows = tuple(
            EventRow(
                at=when(e.occurred_at),
                type=e.type,
                source=e.source,
                subject=e.subject,
                order_href=order_href(e.order_id) if e.order_id else None,
                order_id=e.order_id,
                user_id=e.user_id,
                data=json.dumps(e.data, indent=2, sort_keys=True),
            )
            for e in page.items
        )
        if page.next_cursor:
            next_href = "/ops/audit?" + urlencode({**given, "cursor": page.next_cursor})
    return AuditView(fields, rows, next_href, bool(given), message)


def _errors_of(exc: ApiError) -> dict[str, str]:
    """The log's field errors, by the name of the form's field."""
    names = {f.name: f.label for f in FILTERS}
    found: dict[str, str] = {}
    for error in exc.errors:
        name = error.field.split(".")[-1]
        if name in names and name not in found:
            text = error.message.rstrip(".")
            found[name] = (f"{names[name]} {text}" if text[:1].islower() else text) + "."
    return found


@router.get("/ops/audit")
async def audit_page(request: Request, shopper: ShopperDep) -> Response:
    """A page of the audit log, filtered."""
    caller = await admin(shopper)
    given, errors = read_filters(request.query_params)
    if errors:
        view = audit_view(given, None, errors=errors)
        return await ops_page(shopper, "ops/audit.html", "Audit log", view, status=422)
    cursor = request.query_params.get("cursor") or None
    try:
        async with refused_by_service():
            page = await ops_logs.events(
                caller, _api_filters(given), limit=PAGE_SIZE, cursor=cursor
            )
    except ApiError as exc:
        if exc.status != 422:
            raise
        found = _errors_of(exc)
        view = audit_view(given, None, errors=found, message=None if found else exc.detail)
        return await ops_page(shopper, "ops/audit.html", "Audit log", view, status=422)
    return await ops_page(shopper, "ops/audit.html", "Audit log", audit_view(given, page))
