"""Calls to notifications: the shopper's mails and which kinds of mail they want.

Every call is the signed-in shopper's own: notifications answers only their messages
(another's id, or none, is 404). Preferences name each kind on or off;
`account_created` is always on (`always_on`), and turning it off is a 422.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict

from mercato.web.api.backend import Caller

__all__ = ["Message", "MessagePage", "Preferences", "message", "messages", "preferences"]

API = "/api/notifications"


class Message(BaseModel):
    """A mail the shop sent the shopper (or skipped, the kind being off)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    kind: str
    status: str  # sent, skipped
    order_id: str | None = None
    to: str
    subject: str
    text: str
    sent_at: datetime


class MessagePage(BaseModel):
    """One page of the shopper's mails, newest first."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    items: tuple[Message, ...] = ()
    next_cursor: str | None = None


class Preferences(BaseModel):
    """Each kind of mail, on or off; the kinds that cannot be turned off."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kinds: dict[str, bool]
    always_on: tuple[str, ...] = ()


async def messages(caller: Caller, *, limit: int = 20, cursor: str | None = None) -> MessagePage:
    """The shopper's mails, newest first, a page at a time (422: a bad cursor)."""
    params: dict[str, str | int] = {"limit": limit}
    if cursor:
        params["cursor"] = cursor
    body = await caller.call("notifications", "GET", f"{API}/messages", params=params)
    return MessagePage.model_validate(body)


async def message(caller: Caller, message_id: str) -> Message:
    """One of the shopper's mails (404: none, or another's)."""
    path = f"{API}/messages/{quote(message_id, safe='')}"
    return Message.model_validate(await caller.call("notifications", "GET", path))


async def preferences(caller: Caller, changes: Mapping[str, bool] | None = None) -> Preferences:
    """The shopper's preferences; with `changes`, those kinds turned on/off first."""
    path = f"{API}/preferences"
    if changes is None:
        return Preferences.model_validate(await caller.call("notifications", "GET", path))
    body = {"kinds": dict(changes)}
    return Preferences.model_validate(await caller.call("notifications", "PUT", path, json=body))
