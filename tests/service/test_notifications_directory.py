"""Service tests of a recipient looked up at the users service: a user whose
`user.registered` notifications never saw (registered before it was deployed, or
before the broker's retention) is mailed at the address the real users service holds.

Both services run for real: users served by uvicorn on a loopback port, its profile
made by its own `user.registered` handler; notifications calling it with a service
token (minted by the test key, which users trusts), and mailing a real SMTP server.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from mercato.chassis.events import DependencyUnavailable, Event
from mercato.notifications.directory import LookupRefused
from mercato.notifications.service import UnknownRecipient
from mercato.users.app import create_app as create_users
from mercato.users.handlers import on_user_registered
from mercato.users.settings import load_settings as users_settings
from tests.support.apps import running
from tests.support.mail_server import MailServer
from tests.support.notifications import confirmed, consumer, notifications_app, registered
from tests.support.orders import Server
from tests.support.tokens import TokenFactory

pytestmark = pytest.mark.usefixtures("notifications")


def users_server(tmp_path: Path, tokens: TokenFactory, port: int = 0) -> Server:
    """The users service on SQLite in `tmp_path` (on `port`), trusting the test's key."""
    app = create_users(users_settings(data_dir=tmp_path / "users", broker_url=""))
    server = Server(app, port)
    app.state.runtime.verifier.keys = tokens.keys
    return server


@pytest.fixture
async def users(tmp_path: Path, tokens: TokenFactory) -> AsyncIterator[Server]:
    """The users service, served on a loopback port."""
    server = users_server(tmp_path, tokens)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def notifications(
    tmp_path: Path, smtp: MailServer, users: Server, tokens: TokenFactory
) -> AsyncIterator[FastAPI]:
    """Notifications asking `users` for addresses, with service tokens for its audience."""
    app = notifications_app(tmp_path / "notifications", smtp, users_url=users.url)
    audiences: list[str] = []

    async def mint(audience: str) -> str:
        audiences.append(audience)
        return tokens.token("service:notifications", ["service"], typ="service", aud=audience)

    async with running(app, tokens):
        app.state.runtime.http.token_provider = mint
        app.state.audiences = audiences
        yield app


async def known_to_users(users: Server, email: str, name: str) -> str:
    """A user whose profile the users service made from its own `user.registered`."""
    user_id = str(uuid.uuid4())
    async with users.app.state.runtime.database.transaction() as session:
        await on_user_registered(session, registered(user_id, email, name))
    return user_id


async def handle(app: FastAPI, event: Event) -> None:
    await consumer(app).handle(event)


async def test_a_user_it_never_heard_of_is_mailed_at_the_users_address(
    notifications: FastAPI, users: Server, smtp: MailServer
) -> None:
    user_id = await known_to_users(users, "old.customer@example.com", "Olga Old")
    await handle(notifications, confirmed(user_id))
    [mail] = await smtp.wait_for(1)
    assert mail.recipients == ["old.customer@example.com"]
    assert "Olga Old" in mail.text
    assert notifications.state.audiences == ["users"]  # its token is for users alone
    # The address is kept: the next mail needs no users service.
    await users.stop()
    await handle(notifications, confirmed(user_id))
    mails = await smtp.wait_for(2)
    assert mails[1].recipients == ["old.customer@example.com"]


async def test_a_user_users_does_not_know_either_is_retried(
    notifications: FastAPI, smtp: MailServer
) -> None:
    user_id = str(uuid.uuid4())
    event = confirmed(user_id)
    with pytest.raises(UnknownRecipient):  # retried, then dead-lettered past the bound
        await handle(notifications, event)
    await handle(notifications, registered(user_id, "late@example.com", "Lee"))
    await handle(notifications, event)  # the redelivery
    mails = await smtp.wait_for(2)
    assert [m.recipients for m in mails] == [["late@example.com"]] * 2
    assert "confirmed" in str(mails[1].message["Subject"]).lower()


async def test_users_down_holds_the_mail_until_it_is_back(
    notifications: FastAPI, users: Server, smtp: MailServer, tmp_path: Path, tokens: TokenFactory
) -> None:
    user_id = await known_to_users(users, "patient@example.com", "Pat")
    event = confirmed(user_id)
    await users.stop()
    with pytest.raises(DependencyUnavailable):  # retried, never dead-lettered for this
        await handle(notifications, event)
    assert smtp.arrived() == []
    port = int(users.url.rsplit(":", 1)[1])
    again = users_server(tmp_path, tokens, port)  # back, on its port and its database
    await again.start()
    try:
        await handle(notifications, event)
    finally:
        await again.stop()
    [mail] = await smtp.wait_for(1)
    assert mail.recipients == ["patient@example.com"]


async def test_credentials_users_refuses_dead_letter_instead_of_retrying_forever(
    notifications: FastAPI, users: Server, smtp: MailServer, tokens: TokenFactory
) -> None:
    user_id = await known_to_users(users, "refused@example.com", "Ray")

    async def for_another_audience(audience: str) -> str:
        return tokens.token("service:notifications", ["service"], typ="service", aud="catalog")

    notifications.state.runtime.http.token_provider = for_another_audience
    # Not DependencyUnavailable (held for ever): a plain failure, dead-lettered past the
    # bound and replayed once the deployment's credentials are right.
    with pytest.raises(LookupRefused) as refused:
        await handle(notifications, confirmed(user_id))
    assert not isinstance(refused.value, DependencyUnavailable)
    assert smtp.arrived() == []


async def test_without_a_users_service_an_unknown_user_waits_for_registration(
    tmp_path: Path, smtp: MailServer, tokens: TokenFactory
) -> None:
    app = notifications_app(tmp_path / "alone", smtp)  # users_url unset
    async with running(app, tokens):
        with pytest.raises(UnknownRecipient):
            await handle(app, confirmed(str(uuid.uuid4())))
    assert smtp.arrived() == []
