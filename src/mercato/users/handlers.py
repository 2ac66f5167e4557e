"""Handlers of the events the users service consumes."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.events import Event, PoisonEvent
from mercato.contracts.events import UserRegistered
from mercato.users import service

__all__ = ["on_user_registered"]


async def on_user_registered(session: AsyncSession, event: Event) -> None:
    """Create the new user's profile; a redelivery or a later event changes nothing."""
    if event.version != 1:
        raise PoisonEvent(f"user.registered v{event.version} is not understood by users")
    try:
        data = UserRegistered.model_validate(event.data)
    except ValidationError as exc:
        raise PoisonEvent(f"user.registered {event.id} breaks its contract: {exc}") from exc
    identity = service.Identity(user_id=data.user_id, email=data.email, name=data.name)
    await service.register_profile(session, identity=identity)
