"""Contract tests between auth (producer) and users (consumer), and users' own events."""

from __future__ import annotations

import uuid
from pathlib import Path

from mercato.chassis.events import Event
from mercato.contracts.events import SCHEMAS, ProfileUpdated, UserRegistered, validate
from mercato.users.app import create_app
from mercato.users.handlers import on_user_registered
from mercato.users.service import PROFILE_UPDATED
from mercato.users.settings import load_settings
from tests.support.apps import running
from tests.support.tokens import TokenFactory


def auth_user_registered(user_id: str) -> dict[str, object]:
    """The `user.registered` data exactly as auth builds it."""
    return {"user_id": user_id, "email": "kim@example.com", "name": "Kim", "roles": ["customer"]}


def test_auth_user_registered_matches_the_schema() -> None:
    data = auth_user_registered(str(uuid.uuid4()))
    assert isinstance(validate("user.registered", 1, data), UserRegistered)


def test_profile_updated_schema_is_registered() -> None:
    assert SCHEMAS[(PROFILE_UPDATED, 1)] is ProfileUpdated
    validate(PROFILE_UPDATED, 1, {"user_id": "u", "changed": ["bio"]})


async def test_users_accepts_auth_user_registered(tmp_path: Path, tokens: TokenFactory) -> None:
    user_id = str(uuid.uuid4())
    event = Event.new(
        "user.registered", subject=user_id, data=auth_user_registered(user_id), source="auth"
    )
    wire = Event.from_bytes(event.to_bytes())
    app = create_app(load_settings(data_dir=tmp_path, broker_url=""))
    async with running(app, tokens) as client:
        async with app.state.runtime.database.transaction() as session:
            await on_user_registered(session, wire)
        admin = tokens.headers(str(uuid.uuid4()), ["admin"])
        response = await client.get(f"/api/users/{user_id}", headers=admin)
    assert response.status_code == 200
    assert response.json()["email"] == "kim@example.com"
