"""Delivery over SMTP: the server's URL, the message, and the connection mails go through.

`smtp://user:pass@host:port` connects in plain text and upgrades with STARTTLS when
the server offers it; with a password on a host other than the loopback, STARTTLS is
required, so a password never travels in clear. `smtps://` is TLS from the first
byte (port 465 by default). Certificates are verified against the system's CAs, or
against `smtp_ca_file` when given (a relay with a certificate of a private CA).

A send either ends with the server's acceptance or raises `MailUnavailable` (server
down, refused, too slow): the event handler lets it propagate, so the chassis retries
the event with backoff and, past its bound, dead-letters it.

`Mailer` keeps one connection open from one mail to the next, as mail clients do:
connecting, greeting (with a lookup of this host's name), STARTTLS and the login are
then done once, not for every mail on both sides (docs/performance.md: an eighth of
the service's CPU per checkout, a quarter of the development mail server's).
Mails go through it one at a time. A connection the server has closed (idle, or
restarting) is replaced: before the next mail when its end was seen, or when that mail
finds it gone, the mail is sent once more on a new connection. Any other failure
drops the connection, so the next mail, or the retried event, starts on a fresh one.
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from urllib.parse import unquote, urlsplit

import aiosmtplib

__all__ = [
    "MailUnavailable",
    "Mailer",
    "Outgoing",
    "SmtpTarget",
    "build_message",
    "parse_from_address",
    "parse_smtp_url",
]

DEFAULT_PORTS = {"smtp": 25, "smtps": 465}


class MailUnavailable(Exception):
    """The SMTP server could not be reached or did not accept the mail."""


@dataclass(frozen=True, slots=True)
class SmtpTarget:
    """Where and how to hand mail over."""

    host: str
    port: int
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None  # None: the system's CAs

    @property
    def requires_starttls(self) -> bool:
        """Whether the plain connection must upgrade before the password is sent."""
        return not self.implicit_tls and self.password is not None and not _loopback(self.host)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_smtp_url(url: str, *, ca_file: str | None = None) -> SmtpTarget:
    """The target `url` names (its TLS verified against `ca_file`, if given); ValueError."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise ValueError("must start with smtp:// or smtps://")
    if not parts.hostname:
        raise ValueError("must name a host (smtp://host:port)")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError("must be smtp[s]://[user:pass@]host[:port], nothing after the port")
    try:
        port = DEFAULT_PORTS[parts.scheme] if parts.port is None else parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if port == 0:
        raise ValueError("has an invalid port")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return SmtpTarget(
        host=parts.hostname,
        port=port,
        implicit_tls=parts.scheme == "smtps",
        username=username,
        password=password,
        ca_file=ca_file,
    )


def parse_from_address(value: str) -> tuple[str, str]:
    """`(name, address)` of a sender such as `Shop <no-reply@example.com>`; ValueError."""
    if "\r" in value or "\n" in value:
        raise ValueError("must be one line")
    name, address = parseaddr(value)
    if "@" not in address:
        raise ValueError("must be an address such as Shop <no-reply@example.com>")
    return name, address


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One mail to send: who to, what, and the id it is known by."""

    to_name: str
    to_address: str
    subject: str
    text: str
    html: str
    message_id: str  # stable per (event, kind): a resend carries the same id


def build_message(mail: Outgoing, *, sender: str) -> EmailMessage:
    """The MIME message of `mail` from `sender`: text, with the HTML as its alternative."""
    message = EmailMessage()
    message["From"] = sender
    # A name is one line in a header, whatever it held.
    message["To"] = formataddr((" ".join(mail.to_name.split()), mail.to_address))
    message["Subject"] = mail.subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    # The same Message-ID on a resend (see docs/notifications.md, "Exactly once?"):
    # mail clients and many providers fold duplicates of one id into one.
    message["Message-ID"] = mail.message_id
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message


class Mailer:
    """One connection to the SMTP server of `target`, kept from one mail to the next."""

    def __init__(self, target: SmtpTarget, *, timeout: float) -> None:
        self.target = target
        self.timeout = timeout
        self._client: aiosmtplib.SMTP | None = None
        self._lock = asyncio.Lock()  # one mail at a time on the one connection

    async def send(self, message: EmailMessage) -> None:
        """Hand `message` to the server; MailUnavailable unless it accepted it."""
        target = self.target
        async with self._lock:
            reused = self._client is not None and self._client.is_connected
            try:
                try:
                    await self._deliver(message)
                except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                    if not reused:
                        raise
                    # The server closed the kept connection (idle, restarting) before
                    # this mail was read: once more, on a new one.
                    self._drop()
                    await self._deliver(message)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
                self._drop()
                raise MailUnavailable(
                    f"SMTP {target.host}:{target.port} did not take the mail: {exc}"
                ) from exc

    async def close(self) -> None:
        """Say goodbye to the server, if connected (a failure to do so is of no matter)."""
        async with self._lock:
            client, self._client = self._client, None
            if client is not None and client.is_connected:
                try:
                    await client.quit(timeout=self.timeout)
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()

    async def _deliver(self, message: EmailMessage) -> None:
        client = await self._connected()
        await client.send_message(message, timeout=self.timeout)

    async def _connected(self) -> aiosmtplib.SMTP:
        """The kept connection, or a new one when there is none or the server closed it."""
        if self._client is not None and self._client.is_connected:
            return self._client
        self._drop()
        target = self.target
        client = aiosmtplib.SMTP(
            hostname=target.host,
            port=target.port,
            username=target.username,
            password=target.password,
            use_tls=target.implicit_tls,
            # None: upgrade when the server offers STARTTLS; True: refuse if it does not.
            start_tls=True if target.requires_starttls else None,
            cert_bundle=target.ca_file,
            timeout=self.timeout,
        )
        await client.connect()
        self._client = client
        return client

    def _drop(self) -> None:
        """Forget the connection, closing it (a failed mail may have left it mid-command)."""
        client, self._client = self._client, None
        if client is not None:
            client.close()
