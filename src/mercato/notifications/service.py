"""Domain logic of the notifications service: mail one event's recipient, once.

`notify` runs inside the event consumer's transaction (the chassis inbox row is in
it too). Its order is the service's delivery guarantee:

1. a row of this (event, kind) already recorded: nothing to do;
2. no recipient yet: ask the users service (`directory`) and keep its answer; if it
   has none either (`user.registered` not handled yet), raise, so the chassis retries;
3. the kind turned off: record it `skipped`, send nothing;
4. otherwise hand the mail to SMTP and record it `sent` only after the server took it.

The window between 4's acceptance and the commit is the one place a mail can go
twice: a crash there rolls the record back and the event is redelivered. That is
chosen over recording first (a crash after the record but before SMTP would lose the
mail for good, and a missing order confirmation is worse than a repeated one); the
resend carries the same Message-ID, which mail clients fold into one.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.security.tokens import Principal
from mercato.chassis.web.errors import Conflict, Forbidden, NotFound, Unprocessable, field_error
from mercato.chassis.web.paging import Page, decode_time_cursor
from mercato.notifications import store
from mercato.notifications.directory import Directory
from mercato.notifications.kinds import ALWAYS_ON, Kind
from mercato.notifications.mail import (
    Mailer,
    MailUnavailable,
    Outgoing,
    build_message,
    parse_from_address,
    parse_smtp_url,
)
from mercato.notifications.models import Message, Recipient
from mercato.notifications.settings import NotificationsSettings
from mercato.notifications.templates import Shop, Templates

__all__ = [
    "SENT",
    "SKIPPED",
    "Courier",
    "UnknownRecipient",
    "get_message",
    "get_preferences",
    "list_messages",
    "notify",
    "register_recipient",
    "set_preferences",
]

SENT = "sent"
SKIPPED = "skipped"


class UnknownRecipient(Exception):
    """No address for the user yet: retried, and dead-lettered past the bound."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Courier:
    """What sending needs: the templates, the SMTP server's mailer, the sender."""

    templates: Templates
    mailer: Mailer | None  # None: no SMTP server is configured
    sender: str
    max_event_age: float = 0.0  # seconds; 0: mail about events of any age
    directory: Directory = field(default_factory=lambda: Directory((), timeout=1.0))

    @classmethod
    def from_settings(cls, settings: NotificationsSettings) -> Courier:
        """The courier `settings` describe (no mailer: no SMTP URL configured)."""
        mailer = None
        if settings.smtp_url:
            target = parse_smtp_url(settings.smtp_url, ca_file=settings.smtp_ca_file or None)
            mailer = Mailer(target, timeout=settings.smtp_timeout_seconds)
        return cls(
            templates=Templates(Shop(name=settings.shop_name, url=settings.shop_url)),
            mailer=mailer,
            sender=settings.from_address,
            max_event_age=settings.max_event_age_seconds,
            directory=Directory(settings.users_urls, timeout=settings.users_timeout_seconds),
        )

    async def deliver(self, mail: Outgoing) -> None:
        """Hand `mail` to the SMTP server; MailUnavailable unless it took it."""
        if self.mailer is None:
            raise MailUnavailable("no SMTP server is configured (MERCATO_NOTIFICATIONS_SMTP_URL)")
        await self.mailer.send(build_message(mail, sender=self.sender))

    async def close(self) -> None:
        """Close the connection to the SMTP server, if one is open."""
        if self.mailer is not None:
            await self.mailer.close()

    def message_id(self, event_id: str, kind: Kind) -> str:
        """The Message-ID of the mail of `kind` for `event_id`: the same on every resend."""
        domain = parse_from_address(self.sender)[1].rpartition("@")[2] or "mercato.localhost"
        return f"<{event_id}.{kind.value}@{domain}>"


async def register_recipient(session: AsyncSession, *, user_id: str, email: str, name: str) -> None:
    """Record where `user_id`'s mail goes."""
    await store.save_recipient(session, user_id=user_id, email=email, name=name, now=_now())


async def notify(
    session: AsyncSession,
    courier: Courier,
    *,
    event_id: str,
    kind: Kind,
    user_id: str,
    data: dict[str, Any],
) -> Message | None:
    """Mail `user_id` about `data` once (see the module docstring); the record, if new."""
    if await store.message_recorded(session, event_id=event_id, kind=kind.value):
        return None
    recipient = await store.get_recipient(session, user_id)
    if recipient is None:
        recipient = await _looked_up(session, courier.directory, user_id)
    rendered = courier.templates.render(kind, {"name": recipient.name or recipient.email, **data})
    status = SENT
    if kind not in ALWAYS_ON and kind.value in await store.disabled_kinds(session, user_id):
        status = SKIPPED
    else:
        await courier.deliver(
            Outgoing(
                to_name=recipient.name,
                to_address=recipient.email,
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                message_id=courier.message_id(event_id, kind),
            )
        )
    order_id = data.get("order_id")
    message = Message(
        id=uuid.uuid4().hex,
        event_id=event_id,
        kind=kind.value,
        status=status,
        user_id=user_id,
        order_id=order_id if isinstance(order_id, str) else None,
        to_address=recipient.email,
        subject=rendered.subject,
        text_body=rendered.text,
        created_at=_now(),
    )
    await store.add_message(session, message)
    return message


async def _looked_up(session: AsyncSession, directory: Directory, user_id: str) -> Recipient:
    """`user_id`'s recipient from the users service, kept for next time; or UnknownRecipient."""
    profile = await directory.lookup(user_id)
    if profile is None:
        raise UnknownRecipient(f"no address for user {user_id} yet (user.registered not seen)")
    return await store.save_recipient(
        session, user_id=user_id, email=profile.email, name=profile.name, now=_now()
    )


def _choices(disabled: frozenset[str]) -> dict[str, bool]:
    return {kind.value: kind in ALWAYS_ON or kind.value not in disabled for kind in Kind}


async def get_preferences(session: AsyncSession, *, user_id: str) -> dict[str, bool]:
    """Each kind of mail and whether `user_id` gets it."""
    return _choices(await store.disabled_kinds(session, user_id))


async def set_preferences(
    session: AsyncSession, *, user_id: str, changes: dict[Kind, bool]
) -> dict[str, bool]:
    """Turn kinds on or off (those not named keep their state); 422 for an always-on one."""
    refused = [kind for kind, on in changes.items() if kind in ALWAYS_ON and not on]
    if refused:
        raise Unprocessable(
            "Some mails cannot be turned off.",
            errors=[
                field_error(f"kinds.{kind.value}", "is always sent", type="value_error")
                for kind in refused
            ],
        )
    disabled = set(await store.disabled_kinds(session, user_id))
    for kind, on in changes.items():
        (disabled.discard if on else disabled.add)(kind.value)
    try:
        await store.save_preference(session, user_id=user_id, disabled=sorted(disabled), now=_now())
        await session.commit()
    except IntegrityError:  # a concurrent first choice of the same user won
        raise Conflict("The preferences were changed concurrently; try again.") from None
    return _choices(frozenset(disabled))


def _owner_filter(principal: Principal, user_id: str | None) -> str | None:
    """Whose messages `principal` may list: their own, or (an admin) anyone's."""
    if principal.is_admin:
        return user_id
    if user_id is not None and user_id != principal.subject:
        raise Forbidden("Only admins list another user's messages.")
    return principal.subject


async def list_messages(
    session: AsyncSession,
    *,
    principal: Principal,
    user_id: str | None,
    order_id: str | None,
    limit: int,
    cursor: str | None,
) -> Page[Message]:
    """Messages newest first: the caller's own, or for an admin any user's or order's."""
    return await store.page_messages(
        session,
        user_id=_owner_filter(principal, user_id),
        order_id=order_id,
        limit=limit,
        after=decode_time_cursor(cursor),
    )


async def get_message(session: AsyncSession, *, principal: Principal, message_id: str) -> Message:
    """One message: the caller's own, or any for an admin; 404 otherwise."""
    message = await store.get_message(session, message_id)
    if message is None or not (principal.is_admin or message.user_id == principal.subject):
        raise NotFound(f"No message {message_id}.")
    return message
