"""Service tests of the users service's events: `user.registered` in, outbox out."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from mercato.chassis.events import Event, PoisonEvent
from mercato.chassis.runtime import Runtime
from mercato.chassis.web.errors import Conflict
from mercato.users import service, store
from mercato.users.app import create_app
from mercato.users.handlers import on_user_registered
from mercato.users.models import EVENTS, Profile
from mercato.users.schemas import ProfilePatch
from mercato.users.settings import load_settings
from tests.support.tokens import TokenFactory

ME = "/api/users/me"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    """The users service on SQLite in tmp_path, without a broker."""
    return create_app(load_settings(data_dir=tmp_path, broker_url=""))


def registered(user_id: str, email: str = "hal@example.com", name: str = "Hal") -> Event:
    """A `user.registered` event as auth publishes it."""
    data = {"user_id": user_id, "email": email, "name": name, "roles": ["customer"]}
    return Event.new("user.registered", subject=user_id, data=data, source="auth")


async def deliver(app: FastAPI, event: Event) -> None:
    """Hand `event` to the handler in a transaction, as the consumer does."""
    runtime: Runtime[Any, Any] = app.state.runtime
    async with runtime.database.transaction() as session:
        await on_user_registered(session, event)


async def profiles(app: FastAPI, user_id: str) -> list[Profile]:
    """The stored profile rows of `user_id`."""
    runtime: Runtime[Any, Any] = app.state.runtime
    async with runtime.database.session() as session:
        rows = await session.scalars(select(Profile).where(Profile.user_id == user_id))
        return list(rows)


async def outbox_rows(app: FastAPI) -> list[dict[str, Any]]:
    """Every row of the users outbox."""
    runtime: Runtime[Any, Any] = app.state.runtime
    async with runtime.database.session() as session:
        rows = (await session.execute(select(EVENTS.outbox))).mappings().all()
    return [dict(row) for row in rows]


async def test_registered_event_creates_the_profile_once(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    user_id = str(uuid.uuid4())
    event = registered(user_id)
    await deliver(app, event)
    [first] = await profiles(app, user_id)
    await deliver(app, event)
    [second] = await profiles(app, user_id)
    assert (second.email, second.name) == ("hal@example.com", "Hal")
    assert second.version == first.version and second.updated_at == first.updated_at
    me = await client.get(ME, headers=tokens.headers(user_id, ["customer"]))
    assert me.json()["email"] == "hal@example.com"


async def test_late_event_does_not_clobber_edits(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    user_id = str(uuid.uuid4())
    headers = tokens.headers(user_id, ["customer"], email="hal@example.com", name="Hal")
    assert (await client.get(ME, headers=headers)).status_code == 200
    await client.patch(ME, json={"name": "Hal 9000"}, headers=headers)
    await deliver(app, registered(user_id))
    assert (await client.get(ME, headers=headers)).json()["name"] == "Hal 9000"


async def test_late_event_fills_what_the_token_lacked(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    user_id = str(uuid.uuid4())
    headers = tokens.headers(user_id, ["customer"])
    assert (await client.get(ME, headers=headers)).json()["email"] == ""
    await deliver(app, registered(user_id))
    body = (await client.get(ME, headers=headers)).json()
    assert (body["email"], body["name"]) == ("hal@example.com", "Hal")


async def test_handler_refuses_bad_data(app: FastAPI, client: httpx.AsyncClient) -> None:
    event = Event.new("user.registered", subject="x", data={"user_id": "x"}, source="auth")
    with pytest.raises(PoisonEvent):
        await deliver(app, event)
    data = registered("y").data
    newer = Event.new("user.registered", subject="y", data=data, source="auth", version=2)
    with pytest.raises(PoisonEvent):
        await deliver(app, newer)
    assert await profiles(app, "x") == [] and await profiles(app, "y") == []


async def test_patch_writes_profile_updated_to_the_outbox(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    user_id = str(uuid.uuid4())
    headers = tokens.headers(user_id, ["customer"], email="ida@example.com", name="Ida")
    await client.patch(ME, json={"bio": "hi", "preferences": {"language": "en"}}, headers=headers)
    await client.patch(ME, json={"bio": "hi"}, headers=headers)  # no change, no event
    [row] = await outbox_rows(app)
    assert row["type"] == "user.profile_updated" and row["subject"] == user_id
    event = Event.from_bytes(row["payload"])
    assert event.source == "users" and event.version == 1
    assert event.data == {"user_id": user_id, "changed": ["bio", "preferences"]}


async def test_rejected_patch_writes_no_event(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    headers = tokens.headers(str(uuid.uuid4()), ["customer"])
    response = await client.patch(ME, json={"name": "Ok", "avatar_url": "x"}, headers=headers)
    assert response.status_code == 422
    assert await outbox_rows(app) == []


async def test_concurrent_change_is_a_conflict(app: FastAPI, client: httpx.AsyncClient) -> None:
    runtime: Runtime[Any, Any] = app.state.runtime
    assert runtime.outbox is not None
    identity = service.Identity(user_id=str(uuid.uuid4()), email="j@example.com", name="J")
    async with runtime.database.session() as first, runtime.database.session() as second:
        # `first` has read the profile (and keeps it) when `second` changes it.
        await service.get_own_profile(runtime.database, identity=identity)
        stale = await store.get(first, identity.user_id)
        assert stale is not None and stale.version == 1
        await service.update_own_profile(
            second,
            outbox=runtime.outbox,
            identity=identity,
            patch=ProfilePatch.model_validate({"bio": "second"}),
        )
        with pytest.raises(Conflict):
            await service.update_own_profile(
                first,
                outbox=runtime.outbox,
                identity=identity,
                patch=ProfilePatch.model_validate({"bio": "first"}),
            )
    async with runtime.database.session() as session:
        count = await session.scalar(select(func.count()).select_from(Profile))
        assert count == 1
        assert (await service.get_profile(session, user_id=identity.user_id)).bio == "second"
    assert len(await outbox_rows(app)) == 1
