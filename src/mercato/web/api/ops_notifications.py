"""Calls for the console's mails page: the notifications service's admin reads.

An admin reads everyone's mails (`GET /api/notifications/messages`, newest first,
cursor paged, by `user_id` or `order_id`), one mail (`.../messages/{id}`), and the
templates rendered with sample values (`GET /api/notifications/templates`).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from mercato.web.api.backend import Caller

__all__ = ["Message", "MessagePage", "Template", "message", "messages", "templates"]

PATH = "/api/notifications"


class Message(BaseModel):
    """A mail the service sent (or skipped: its kind turned off)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    kind: str
    status: str
    user_id: str
    order_id: str | None = None
    to: str
    subject: str
    text: str = ""
    sent_at: datetime | None = None


class MessagePage(BaseModel):
    """A page of mails, newest first."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: tuple[Message, ...]
    next_cursor: str | None = None


class Template(BaseModel):
    """A kind of mail, rendered with sample values."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: str
    event_type: str
    can_turn_off: bool
    subject: str
    text: str
    html: str


async def messages(
    caller: Caller, filters: dict[str, str], *, limit: int = 20, cursor: str | None = None
) -> MessagePage:
    """Everyone's mails matching `filters` (`user_id`, `order_id`), newest first, a page."""
    params: dict[str, str | int] = {"limit": limit, **filters}
    if cursor:
        params["cursor"] = cursor
    body = await caller.call("notifications", "GET", f"{PATH}/messages", params=params)
    return MessagePage.model_validate(body)


async def message(caller: Caller, message_id: str) -> Message:
    """One mail (404: none)."""
    path = f"{PATH}/messages/{quote(message_id, safe='')}"
    return Message.model_validate(await caller.call("notifications", "GET", path))


async def templates(caller: Caller) -> tuple[Template, ...]:
    """Every kind of mail, previewed."""
    body = await caller.call("notifications", "GET", f"{PATH}/templates")
    return tuple(Template.model_validate(item) for item in body["items"])
