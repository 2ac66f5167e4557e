"""HTTP routes of the logs service (admin only): thin, parse and delegate to `service`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query

from mercato.chassis.runtime import Runtime
from mercato.chassis.security.tokens import Admin
from mercato.chassis.web.dependencies import SessionDep, runtime_of
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.openapi import problems
from mercato.chassis.web.paging import CursorQuery, page_size
from mercato.logs import dead_letters, service
from mercato.logs.schemas import (
    AuditEventOut,
    AuditEventPage,
    DeadLetterList,
    DeadLetterOut,
    ReplayOut,
    dead_letter_body,
    event_body,
)
from mercato.logs.settings import LogsSettings
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


async def _settings(
    runtime: Annotated[Runtime[LogsSettings, None], Depends(runtime_of)],
) -> LogsSettings:
    return runtime.settings


Settings = Annotated[LogsSettings, Depends(_settings)]
DeadLetterId = Annotated[
    str, Path(min_length=1, max_length=200, description="The dead letter's id on the broker.")
]
BROKER = {503: "No broker credentials for the dead letters, or the broker did not answer."}


@router.get(
    "/dead-letters",
    summary="List the dead letters (admin)",
    responses=problems(BROKER),
)
async def list_dead_letters(
    _: Admin,
    settings: Settings,
    limit: Annotated[int, page_size(dead_letters.MAX_LISTED)] = 100,
) -> DeadLetterList:
    """The oldest events a consumer gave up on, as the broker keeps them."""
    found = await dead_letters.listed(settings, limit=limit)
    return DeadLetterList(items=[dead_letter_body(letter) for letter in found])


@router.get(
    "/dead-letters/{dead_letter_id}",
    summary="Read a dead letter (admin)",
    responses=problems({404: "No such dead letter (replayed already?).", **BROKER}),
)
async def read_dead_letter(
    dead_letter_id: DeadLetterId, _: Admin, settings: Settings
) -> DeadLetterOut:
    """One dead letter: the consumer, the error, the attempts and the event."""
    return dead_letter_body(await dead_letters.find(settings, dead_letter_id=dead_letter_id))


@router.post(
    "/dead-letters/{dead_letter_id}/replay",
    summary="Replay a dead letter (admin)",
    responses=problems(
        {
            404: "No such dead letter (replayed already?).",
            409: "The broker refused to replay it: its event has left the events stream, "
            "or it is not the event it names.",
            **BROKER,
        }
    ),
)
async def replay_dead_letter(
    dead_letter_id: DeadLetterId, _: Admin, settings: Settings
) -> ReplayOut:
    """Publish the event again for its consumers and remove the dead letter."""
    letter = await dead_letters.replay(settings, dead_letter_id=dead_letter_id)
    event = letter.event
    return ReplayOut(
        id=letter.id,
        replayed=True,
        consumer=letter.consumer,
        event_type=letter.event_type,
        event_id=event.id if event is not None else None,
    )
