"""HTTP routes of the logs service (admin only): thin, parse and delegate to `service`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query

from mercato.chassis.security.tokens import Admin
from mercato.chassis.web.dependencies import SessionDep
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.openapi import problems
from mercato.chassis.web.paging import CursorQuery, page_size
from mercato.logs import service
from mercato.logs.schemas import AuditEventOut, AuditEventPage, event_body
from mercato.logs.store import EventFilter

__all__ = ["router"]

router = APIRouter(prefix="/api/logs", tags=["logs"], route_class=StrictJsonRoute)

# An event type, or a type prefix ending in `*` ("order.*", "payment*", "*").
TYPE_QUERY = r"^[A-Za-z0-9_.-]*\*?$"
Text = Annotated[str | None, Query(min_length=1, max_length=200)]


@router.get("/events", summary="Query the audit log (admin)")
async def list_events(
    _: Admin,
    session: SessionDep,
    *,
    type: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=TYPE_QUERY,
            description="An event type, or a prefix ending in `*` such as `order.*`.",
        ),
    ] = None,
    source: Annotated[Text, Query(description="The service that published it.")] = None,
    user_id: Annotated[Text, Query(description="The user it concerns.")] = None,
    order_id: Annotated[Text, Query(description="The order it concerns.")] = None,
    subject: Annotated[Text, Query(description="The aggregate it concerns, by id.")] = None,
    since: Annotated[datetime | None, Query(description="Occurred at or after.")] = None,
    until: Annotated[datetime | None, Query(description="Occurred before.")] = None,
    limit: Annotated[int, page_size(500)] = 100,
    cursor: CursorQuery = None,
) -> AuditEventPage:
    """Events matching every filter given, in the order they occurred, keyset paged."""
    where = EventFilter(
        type=type,
        source=source,
        user_id=user_id,
        order_id=order_id,
        subject=subject,
        since=since,
        until=until,
    )
    found = await service.list_events(session, where=where, limit=limit, cursor=cursor)
    return AuditEventPage(
        items=[event_body(event) for event in found.items], next_cursor=found.next_cursor
    )


@router.get(
    "/events/{event_id}",
    summary="Read one audit event (admin)",
    responses=problems({404: "No such event in the audit log."}),
)
async def read_event(
    event_id: Annotated[str, Path(description="The event's id.")], _: Admin, session: SessionDep
) -> AuditEventOut:
    """The audit event `event_id`; 404 when there is none."""
    return event_body(await service.get_event(session, event_id=event_id))
