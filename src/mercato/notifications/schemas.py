"""API shapes of the notifications service (never ORM classes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from mercato.chassis.web.paging import Page
from mercato.notifications.kinds import Kind
from mercato.notifications.models import Message

__all__ = [
    "MessageOut",
    "MessagePage",
    "PreferencesIn",
    "PreferencesOut",
    "TemplateList",
    "TemplateOut",
    "message_body",
]

MESSAGE: dict[str, Any] = {
    "id": "5f1d0c2b9a8e4f7d8c6b5a4e3d2c1b0a",
    "kind": "order_confirmed",
    "status": "sent",
    "user_id": "8d5e2c1a-4b7f-4e11-9c3a-2f6d8b0e7a51",
    "order_id": "ord_0123456789",
    "to": "ada@example.com",
    "subject": "Your Mercato order ord_0123456789 is confirmed",
    "text": "Hello Ada Lovelace,\n\nthank you for your order. ...",
    "sent_at": "2026-01-01T12:00:00Z",
}


class MessageOut(BaseModel):
    """One mail the service sent, or skipped because its kind was turned off."""

    model_config = ConfigDict(json_schema_extra={"examples": [MESSAGE]})

    id: str = Field(description="The message's id.")
    kind: Kind = Field(description="What the mail is about.")
    status: str = Field(description="`sent` (the mail server took it) or `skipped`.")
    user_id: str = Field(description="Whose mail it is.")
    order_id: str | None = Field(description="The order it is about, if any.")
    to: str = Field(description="The address it went to.")
    subject: str = Field(description="Its subject.")
    text: str = Field(description="Its text body.")
    sent_at: datetime = Field(description="When it was sent (or skipped).")


def message_body(message: Message) -> dict[str, Any]:
    """The JSON object of a stored message, in the `MessageOut` shape."""
    return {
        "id": message.id,
        "kind": message.kind,
        "status": message.status,
        "user_id": message.user_id,
        "order_id": message.order_id,
        "to": message.to_address,
        "subject": message.subject,
        "text": message.text_body,
        "sent_at": message.created_at,
    }


class MessagePage(Page[MessageOut]):
    """One page of messages and the cursor of the next, if any."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [MESSAGE], "next_cursor": "WzE3Njcy"}]}
    )


PREFERENCES: dict[str, Any] = {
    "kinds": {kind.value: kind is not Kind.PAYMENT_FAILED for kind in Kind},
    "always_on": ["account_created"],
}


class PreferencesIn(BaseModel):
    """Kinds of mail to turn on (`true`) or off (`false`); kinds not named keep their state."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"kinds": {"shipment_shipped": False}}]}
    )

    kinds: dict[Kind, StrictBool] = Field(description="Kind of mail to on/off.")


class PreferencesOut(BaseModel):
    """Each kind of mail and whether the caller gets it."""

    model_config = ConfigDict(json_schema_extra={"examples": [PREFERENCES]})

    kinds: dict[Kind, bool] = Field(description="Kind of mail to whether it is sent.")
    always_on: list[Kind] = Field(description="The kinds that cannot be turned off.")


class TemplateOut(BaseModel):
    """A kind of mail, the event that sends it and a preview with sample values."""

    kind: Kind = Field(description="The kind of mail.")
    event_type: str = Field(description="The event that sends it.")
    can_turn_off: bool = Field(description="Whether a customer may turn it off.")
    subject: str = Field(description="The preview's subject.")
    text: str = Field(description="The preview's text body.")
    html: str = Field(description="The preview's HTML body.")


class TemplateList(BaseModel):
    """Every kind of mail with its preview."""

    items: list[TemplateOut]
