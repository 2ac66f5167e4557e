"""Queries of the notifications service: functions taking an AsyncSession, no HTTP."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.web.paging import Page, TimeKeyset, keyset_page
from mercato.notifications.models import Message, Preference, Recipient

__all__ = [
    "add_message",
    "disabled_kinds",
    "get_message",
    "get_preference",
    "get_recipient",
    "message_recorded",
    "page_messages",
    "save_preference",
    "save_recipient",
]

_NEWEST = TimeKeyset(Message.created_at, Message.id)


async def get_recipient(session: AsyncSession, user_id: str) -> Recipient | None:
    """Where `user_id`'s mail goes, or None before their `user.registered` arrived."""
    return await session.get(Recipient, user_id)


async def save_recipient(
    session: AsyncSession, *, user_id: str, email: str, name: str, now: datetime
) -> Recipient:
    """Record (or correct) a user's address and name."""
    recipient = await session.get(Recipient, user_id)
    if recipient is None:
        recipient = Recipient(user_id=user_id, email=email, name=name, created_at=now)
        session.add(recipient)
    else:
        recipient.email, recipient.name = email, name
    await session.flush()
    return recipient


async def get_preference(session: AsyncSession, user_id: str) -> Preference | None:
    """A user's stored choice of mails, or None (every kind on)."""
    return await session.get(Preference, user_id)


async def disabled_kinds(session: AsyncSession, user_id: str) -> frozenset[str]:
    """The kinds `user_id` turned off."""
    preference = await session.get(Preference, user_id)
    return frozenset(preference.disabled) if preference is not None else frozenset()


async def message_recorded(session: AsyncSession, *, event_id: str, kind: str) -> bool:
    """Whether a mail of `kind` for `event_id` was already sent or skipped."""
    found = await session.scalar(
        select(Message.id).where(Message.event_id == event_id, Message.kind == kind)
    )
    return found is not None


async def add_message(session: AsyncSession, message: Message) -> None:
    """Record a mail sent or skipped (the unique (event, kind) key refuses a second)."""
    session.add(message)
    await session.flush()


async def get_message(session: AsyncSession, message_id: str) -> Message | None:
    """The message `message_id`, or None."""
    return await session.get(Message, message_id)


async def page_messages(
    session: AsyncSession,
    *,
    user_id: str | None,
    order_id: str | None,
    limit: int,
    after: tuple[datetime, str] | None,
) -> Page[Message]:
    """Up to `limit` messages newest first, of one user and/or one order if given."""
    statement = select(Message)
    if user_id is not None:
        statement = statement.where(Message.user_id == user_id)
    if order_id is not None:
        statement = statement.where(Message.order_id == order_id)
    return await keyset_page(session, statement, _NEWEST, limit=limit, after=after)


async def save_preference(
    session: AsyncSession, *, user_id: str, disabled: list[str], now: datetime
) -> None:
    """Store the kinds `user_id` turned off (replacing the previous choice)."""
    preference = await session.get(Preference, user_id)
    if preference is None:
        session.add(Preference(user_id=user_id, disabled=disabled, updated_at=now))
    else:
        preference.disabled, preference.updated_at = disabled, now
    await session.flush()
