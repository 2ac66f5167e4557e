"""Service tests of the notifications' SMTP over TLS: STARTTLS with a login, and SMTPS.

A real aiosmtpd server with a certificate of the test's own CA: the service trusts
it only through `MERCATO_NOTIFICATIONS_SMTP_CA_FILE`.
"""

from __future__ import annotations

import ssl
import uuid
from pathlib import Path

import pytest

from mercato.notifications.mail import MailUnavailable
from tests.support.apps import running
from tests.support.mail_server import MailServer
from tests.support.notifications import consumer, notifications_app, registered
from tests.support.tls import Pki, make_pki

LOGIN = ("mailer", "s3cret-Pass%word")


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    """A CA and a server certificate for localhost/127.0.0.1."""
    return make_pki(tmp_path / "pki")


def server_context(pki: Pki) -> ssl.SSLContext:
    """The mail server's TLS: its certificate of the test CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert("server"), pki.key("server"))
    return context


async def test_starttls_with_a_login(tmp_path: Path, pki: Pki) -> None:
    server = MailServer(tls=server_context(pki), login=LOGIN)
    server.start()
    try:
        url = f"smtp://mailer:s3cret-Pass%25word@localhost:{server.port}"
        app = notifications_app(tmp_path, server, smtp_url=url, smtp_ca_file=str(pki.ca))
        async with running(app):
            await consumer(app).handle(registered(str(uuid.uuid4()), "tls@example.com"))
        [mail] = await server.wait_for(1)
        assert mail.over_tls and mail.login == "mailer"
        assert mail.recipients == ["tls@example.com"]
    finally:
        server.stop()


async def test_smtps_from_the_first_byte(tmp_path: Path, pki: Pki) -> None:
    server = MailServer(tls=server_context(pki), implicit=True)
    server.start()
    try:
        url = f"smtps://localhost:{server.port}"
        app = notifications_app(tmp_path, server, smtp_url=url, smtp_ca_file=str(pki.ca))
        async with running(app):
            await consumer(app).handle(registered(str(uuid.uuid4()), "smtps@example.com"))
        [mail] = await server.wait_for(1)
        assert mail.over_tls
    finally:
        server.stop()


async def test_a_certificate_it_does_not_trust_fails_the_send(tmp_path: Path, pki: Pki) -> None:
    server = MailServer(tls=server_context(pki), implicit=True)
    server.start()
    try:
        app = notifications_app(tmp_path, server, smtp_url=f"smtps://localhost:{server.port}")
        async with running(app):
            with pytest.raises(MailUnavailable):
                await consumer(app).handle(registered(str(uuid.uuid4()), "no@example.com"))
        assert server.arrived() == []
    finally:
        server.stop()


async def test_a_wrong_password_fails_the_send(tmp_path: Path, pki: Pki) -> None:
    server = MailServer(tls=server_context(pki), login=LOGIN)
    server.start()
    try:
        url = f"smtp://mailer:wrong@localhost:{server.port}"
        app = notifications_app(tmp_path, server, smtp_url=url, smtp_ca_file=str(pki.ca))
        async with running(app):
            with pytest.raises(MailUnavailable):
                await consumer(app).handle(registered(str(uuid.uuid4()), "no@example.com"))
        assert server.arrived() == []
    finally:
        server.stop()
