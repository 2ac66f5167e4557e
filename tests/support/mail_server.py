"""A real SMTP server for tests: aiosmtpd on a loopback port, keeping what arrives.

`MailServer` runs aiosmtpd's controller (its own thread and event loop) and keeps each
accepted mail as a parsed `email.message.EmailMessage` with its envelope. It can stop
and start again on the same port, so a test can take the server away and bring it back.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.controller import Controller

from tests.support.servers import closed_port

__all__ = ["Arrived", "MailServer"]


@dataclass(frozen=True)
class Arrived:
    """One mail the server accepted: the envelope's recipients and the message."""

    recipients: list[str]
    message: EmailMessage

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
        with self.server.lock:
            self.server.mails.append(Arrived(list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class MailServer:
    """An SMTP server on 127.0.0.1:`port` (a free one by default)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or closed_port()
        self.mails: list[Arrived] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        """Its URL as the notifications service's settings take it."""
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Listen (again) on the port."""
        self._controller = Controller(_Keeper(self), hostname="127.0.0.1", port=self.port)
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
