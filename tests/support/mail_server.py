"""A real SMTP server for tests: aiosmtpd on a loopback port, keeping what arrives.

`MailServer` runs aiosmtpd's controller (its own thread and event loop) and keeps each
accepted mail as a parsed `email.message.EmailMessage` with its envelope, whether it
came over TLS and who logged in. It can stop and start again on the same port, so a
test can take the server away and bring it back. Given a TLS context it offers
STARTTLS (and requires it), or with `implicit=True` speaks TLS from the first byte
(SMTPS); given a login, it requires it.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support.servers import closed_port

__all__ = ["Arrived", "MailServer", "smtp"]


@dataclass(frozen=True)
class Arrived:
    """One mail the server accepted: the envelope's recipients and the message."""

    recipients: list[str]
    message: EmailMessage
    over_tls: bool = False
    login: str | None = None
    peer: tuple[str, int] | None = None  # the client's address: one per connection

    @property
    def text(self) -> str:
        """The text/plain part."""
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None
        return str(part.get_content())

    @property
    def html(self) -> str:
        """The text/html part."""
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None
        return str(part.get_content())


class _Keeper:
    """aiosmtpd's handler: keeps every mail and accepts it."""

    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        login = session.auth_data.decode() if session.auth_data else None
        # STARTTLS replaces the transport; SMTPS's was TLS from the start.
        over_tls = server.transport.get_extra_info("ssl_object") is not None
        peer = tuple(session.peer[:2]) if session.peer else None
        arrived = Arrived(list(envelope.rcpt_tos), message, over_tls, login, peer)
        with self.server.lock:
            self.server.mails.append(arrived)
        return "250 Message accepted for delivery"


class MailServer:
    """An SMTP server on 127.0.0.1:`port` (a free one by default)."""

    def __init__(
        self,
        port: int | None = None,
        *,
        tls: ssl.SSLContext | None = None,
        implicit: bool = False,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.port = port or closed_port()
        self.tls, self.implicit, self.login = tls, implicit, login
        self.mails: list[Arrived] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self.login is not None
        ok = ok and (data.login.decode(), data.password.decode()) == self.login
        return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)

    @property
    def url(self) -> str:
        """Its URL as the notifications service's settings take it."""
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (again) on the port."""
        options: dict[str, Any] = {}
        if self.tls is not None and self.implicit:
            options["ssl_context"] = self.tls
        elif self.tls is not None:
            options |= {"tls_context": self.tls, "require_starttls": True}
        if self.login is not None:
            options |= {"auth_required": True, "authenticator": self._authenticate}
        self._controller = Controller(
            _Keeper(self), hostname="127.0.0.1", port=self.port, **options
        )
        self._controller.start()

    def stop(self) -> None:
        """Stop listening: a connection to the port is refused."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def arrived(self) -> list[Arrived]:
        """The mails accepted so far."""
        with self.lock:
            return list(self.mails)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Arrived]:
        """The mails once at least `count` have arrived (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while len(self.arrived()) < count:
            assert time.monotonic() < deadline, f"{count} mails not arrived in {timeout}s"
            await asyncio.sleep(0.02)
        return self.arrived()


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    """A real SMTP server on a loopback port, started, and stopped afterwards."""
    server = MailServer()
    server.start()
    yield server
    server.stop()
