"""HTTP routes of the notifications service: thin, parse and delegate to `service`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from mercato.chassis.security.tokens import Admin, UserCaller
from mercato.chassis.web.dependencies import SessionDep, get_runtime
from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.chassis.web.json_response import JsonResponse
from mercato.chassis.web.openapi import problems
from mercato.chassis.web.paging import CursorQuery, page_size
from mercato.notifications import service
from mercato.notifications.kinds import ALWAYS_ON, EVENT_KINDS, Kind
from mercato.notifications.schemas import (
    MessageOut,
    MessagePage,
    PreferencesIn,
    PreferencesOut,
    TemplateList,
    message_body,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/notifications", tags=["notifications"], route_class=StrictJsonRoute)
EVENT_OF = {kind: event_type for event_type, kind in EVENT_KINDS.items()}
Id = Annotated[str, Query(min_length=1, max_length=64)]


def _preferences_body(kinds: dict[str, bool]) -> dict[str, object]:
    return {"kinds": kinds, "always_on": sorted(kind.value for kind in ALWAYS_ON)}


@router.get(
    "/messages",
    response_model=MessagePage,
    summary="List the mails sent to you (admins: anyone's)",
    responses=problems({403: "A filter by another user (admins only), or a service token."}),
)
async def list_messages(
    *,
    principal: UserCaller,
    session: SessionDep,
    user_id: Annotated[Id | None, Query(description="Whose mails (admins only).")] = None,
    order_id: Annotated[Id | None, Query(description="The mails about one order.")] = None,
    limit: Annotated[int, page_size(100)] = 20,
    cursor: CursorQuery = None,
) -> Response:
    """Mails newest first, keyset paged: your own, or for an admin any user's or order's."""
    found = await service.list_messages(
        session,
        principal=principal,
        user_id=user_id,
        order_id=order_id,
        limit=limit,
        cursor=cursor,
    )
    return JsonResponse(
        {"items": [message_body(m) for m in found.items], "next_cursor": found.next_cursor}
    )


@router.get(
    "/messages/{message_id}",
    response_model=MessageOut,
    summary="Read one mail sent to you",
    responses=problems({404: "No such message of yours."}),
)
async def read_message(
    message_id: Annotated[str, Path(max_length=64, description="The message's id.")],
    principal: UserCaller,
    session: SessionDep,
) -> Response:
    """One of your mails (an admin reads any); someone else's is 404."""
    message = await service.get_message(session, principal=principal, message_id=message_id)
    return JsonResponse(message_body(message))


@router.get("/preferences", response_model=PreferencesOut, summary="Read your mail choices")
async def read_preferences(principal: UserCaller, session: SessionDep) -> Response:
    """Each kind of mail and whether you get it."""
    kinds = await service.get_preferences(session, user_id=principal.subject)
    return JsonResponse(_preferences_body(kinds))


@router.put(
    "/preferences",
    response_model=PreferencesOut,
    summary="Turn kinds of mail on or off",
    responses=problems(
        {
            409: "Changed concurrently; read them again and retry.",
            422: "An unknown kind, a value that is not a boolean, or an always-on kind turned off.",
        }
    ),
)
async def update_preferences(
    preferences_in: PreferencesIn, principal: UserCaller, session: SessionDep
) -> Response:
    """Turn the kinds named on or off; the others keep their state."""
    kinds = await service.set_preferences(
        session, user_id=principal.subject, changes=preferences_in.kinds
    )
    return JsonResponse(_preferences_body(kinds))


@router.get("/templates", response_model=TemplateList, summary="Preview every mail (admin)")
async def list_templates(_: Admin, request: Request) -> Response:
    """Each kind of mail, the event that sends it, and a preview with sample values."""
    courier: service.Courier = get_runtime(request).context
    items = []
    for kind in Kind:
        preview = courier.templates.preview(kind)
        items.append(
            {
                "kind": kind.value,
                "event_type": EVENT_OF[kind],
                "can_turn_off": kind not in ALWAYS_ON,
                "subject": preview.subject,
                "text": preview.text,
                "html": preview.html,
            }
        )
    return JsonResponse({"items": items})
