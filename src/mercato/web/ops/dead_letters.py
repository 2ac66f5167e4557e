"""`/ops/dead-letters`: the events consumers gave up on, inspected and replayed.

    GET  /ops/dead-letters                  the oldest dead letters, each with a link
    GET  /ops/dead-letters/{id}             one: consumer, error, attempts, the event
    POST /ops/dead-letters/{id}/replay      one button: the event goes to its consumers
                                            again; the list then says what happened

They come from the logs service's admin API (`/api/logs/dead-letters`), which reads
them on the broker; when it cannot (no broker credentials for them, the broker or
the logs service down) the page says so with a 503. A replay's result is shown on
the list it goes back to (the session's message for the next page); a replay the
logs service refuses (gone already, or the broker will not replay it) shows why.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter
from starlette.responses import RedirectResponse, Response

from mercato.chassis.web.json_body import StrictJsonRoute
from mercato.web.api import ops_logs
from mercato.web.api.backend import ApiError, BackendDown, Caller
from mercato.web.forms import FormView, form_view
from mercato.web.ops.access import admin, admin_form, refused_by_service
from mercato.web.ops.nav import ops_page
from mercato.web.shopper import Shopper, ShopperDep

__all__ = [
    "DeadLetterView",
    "DeadLettersView",
    "LetterRow",
    "dead_letter_view",
    "dead_letters_view",
    "replayed_message",
    "router",
]

router = APIRouter(route_class=StrictJsonRoute, include_in_schema=False)
LIST = "/ops/dead-letters"
UNAVAILABLE = (
    "The dead letters cannot be read right now: the logs service or the broker is "
    "unavailable, or the logs service has no broker credentials for the dead letters "
    "(MERCATO_LOGS_DEAD_LETTERS_BROKER_URL)."
)
GONE = "Dead letter {id} is no longer there: it was replayed already."
ERROR_CHARS = 160


def _when(letter: ops_logs.DeadLetter) -> str:
    return letter.failed_at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _href(dead_letter_id: str) -> str:
    return f"{LIST}/{quote(dead_letter_id, safe='')}"


@dataclass(frozen=True, slots=True)
class LetterRow:
    """A dead letter in the list."""

    id: str
    href: str
    failed_at: str
    consumer: str
    event_type: str
    attempts: int
    error: str  # its first line, cut


@dataclass(frozen=True, slots=True)
class DeadLettersView:
    """The list: the dead letters, or why there are none to show."""

    letters: tuple[LetterRow, ...]
    message: str | None = None  # a failed replay, or why nothing can be read


def _short(error: str) -> str:
    line = " ".join(error.split())
    return line if len(line) <= ERROR_CHARS else line[: ERROR_CHARS - 1] + "…"


def dead_letters_view(
    letters: tuple[ops_logs.DeadLetter, ...], *, message: str | None = None
) -> DeadLettersView:
    """The list page of `letters`, oldest first."""
    rows = tuple(
        LetterRow(
            id=letter.id,
            href=_href(letter.id),
            failed_at=_when(letter),
            consumer=letter.consumer,
            event_type=letter.event_type,
            attempts=letter.attempts,
            error=_short(letter.error),
        )
        for letter in letters
    )
    return DeadLettersView(rows, message)


@dataclass(frozen=True, slots=True)
class DeadLetterView:
    """One dead letter, with its Replay button."""

    id: str
    facts: tuple[tuple[str, str], ...]
    error: str
    event: str | None  # the envelope, as indented JSON
    payload: str
    replay: FormView
    audit_href: str | None


def dead_letter_view(
    letter: ops_logs.DeadLetter, csrf_token: str, *, message: str | None = None
) -> DeadLetterView:
    """The page of one dead letter; `message`: why a replay was refused."""
    event = letter.event or {}
    facts = [
        ("Consumer", letter.consumer),
        ("Event type", letter.event_type),
        ("Attempts", str(letter.attempts)),
        ("Failed at", _when(letter)),
    ]
    if event:
        facts += [("Event id", str(event.get("id"))), ("Published by", str(event.get("source")))]
        facts.append(("Subject", str(event.get("subject"))))
    else:
        facts.append(("Event", "the payload is not a valid event"))
    subject = event.get("subject")
    replay = form_view(
        "replay",
        (),
        action=f"{_href(letter.id)}/replay",
        submit="Replay",
        csrf_token=csrf_token,
        message=message,
    )
    return DeadLetterView(
        id=letter.id,
        facts=tuple(facts),
        error=letter.error,
        event=json.dumps(event, indent=2, sort_keys=True) if event else None,
        payload=letter.payload,
        replay=replay,
        audit_href=f"/ops/audit?subject={quote(str(subject), safe='')}" if subject else None,
    )


def replayed_message(replayed: ops_logs.Replayed) -> str:
    """What the list says after a replay the broker took."""
    event = f" (event {replayed.event_id})" if replayed.event_id else ""
    return (
        f"Replayed dead letter {replayed.id}: {replayed.event_type}{event} was published "
        f"again for {replayed.consumer}. Should it fail again, it comes back to this list."
    )


async def _list_page(
    shopper: Shopper, caller: Caller, *, message: str | None = None, status: int = 200
) -> Response:
    try:
        async with refused_by_service():
            letters = await ops_logs.dead_letters(caller)
    except BackendDown:
        view = dead_letters_view((), message=UNAVAILABLE)
        return await ops_page(shopper, "ops/dead_letters.html", "Dead letters", view, status=503)
    view = dead_letters_view(letters, message=message)
    return await ops_page(shopper, "ops/dead_letters.html", "Dead letters", view, status=status)


@router.get("/ops/dead-letters")
async def dead_letters_page(shopper: ShopperDep) -> Response:
    """The oldest dead letters."""
    return await _list_page(shopper, await admin(shopper))


@router.get("/ops/dead-letters/{dead_letter_id}")
async def dead_letter_page(dead_letter_id: str, shopper: ShopperDep) -> Response:
    """One dead letter and its Replay button (the 404 page when there is none)."""
    caller = await admin(shopper)
    async with refused_by_service():
        letter = await ops_logs.dead_letter(caller, dead_letter_id)
    view = dead_letter_view(letter, await shopper.csrf_token())
    return await ops_page(shopper, "ops/dead_letter.html", f"Dead letter {letter.id}", view)


@router.post("/ops/dead-letters/{dead_letter_id}/replay")
async def replay(dead_letter_id: str, shopper: ShopperDep) -> Response:
    """Replay the dead letter; back to the list, which shows the result."""
    caller, _ = await admin_form(shopper)
    try:
        async with refused_by_service():
            replayed = await ops_logs.replay(caller, dead_letter_id)
    except ApiError as exc:
        if exc.status == 404:
            message = GONE.format(id=dead_letter_id)
            return await _list_page(shopper, caller, message=message, status=404)
        if exc.status != 409:
            raise
        async with refused_by_service():
            letter = await ops_logs.dead_letter(caller, dead_letter_id)
        view = dead_letter_view(letter, shopper.record_csrf(), message=exc.detail)
        title = f"Dead letter {letter.id}"
        return await ops_page(shopper, "ops/dead_letter.html", title, view, status=409)
    await shopper.flash(replayed_message(replayed))
    return RedirectResponse(LIST, status_code=303)
