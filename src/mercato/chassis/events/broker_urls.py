"""Broker URLs: one server, or for NATS the comma-separated servers of a cluster.

`MERCATO_BROKER_URL` is one URL (`nats://host:4222`, `amqp://user:pw@host/vhost`) or,
for NATS, several servers separated by commas, as NATS clients take them:
`nats://a:4222,nats://b:4222,nats://c:4222`. The client tries them in turn and
learns the rest of the cluster from the server it reaches, so a service starts
while its first seed node is down. Credentials may be written in every server's URL
or in some of them; where several carry them they must be the same, since one
connection logs in as one user (`nats_login` takes them out of the URLs and gives
them to the client once, so that they hold for the servers it discovers too).

RabbitMQ takes one URL. aio-pika's robust connection reconnects to the URL it was
given and to no other, so a list would fail over at the first connection only, and
then stay with a node that is gone. A RabbitMQ cluster is reached through one
address that leads to every node (a load balancer, a Kubernetes Service, a DNS name
with a record per node: the client tries each address in turn); a list is refused.

This module imports no broker client, so that the settings can check a URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

__all__ = [
    "AMQP_SCHEMES",
    "NATS_SCHEMES",
    "NatsLogin",
    "broker_servers",
    "check_broker_url",
    "nats_login",
    "shown_servers",
]

NATS_SCHEMES = ("nats", "tls")
AMQP_SCHEMES = ("amqp", "amqps")


def broker_servers(url: str) -> list[str]:
    """The servers `url` names, in order: one for a single URL, each of a list."""
    return [part.strip() for part in url.split(",") if part.strip()]


def _parts(server: str) -> SplitResult:
    parts = urlsplit(server)
    scheme = parts.scheme.lower()
    if scheme not in NATS_SCHEMES + AMQP_SCHEMES:
        shown = f" {scheme!r}" if scheme else ""
        raise ValueError(
            f"unsupported broker URL scheme{shown}: use nats:// (or tls://), amqp:// (or amqps://)"
        )
    if not parts.hostname:
        raise ValueError(f"a {scheme}:// server without a host")
    _ = parts.port  # ValueError on a port that is not a number in range
    return parts


def check_broker_url(url: str) -> str:
    """`url` without blanks around its servers; ValueError (one line, no secret) if unusable.

    An empty URL is no broker, and stays empty.
    """
    if not url.strip():
        return ""
    servers = [part.strip() for part in url.split(",")]
    if not all(servers):
        raise ValueError("an empty entry in the list of servers (two commas, or one at an end)")
    parts = [_parts(server) for server in servers]
    nats = {p.scheme.lower() in NATS_SCHEMES for p in parts}
    if len(nats) > 1:
        raise ValueError("the list mixes NATS and RabbitMQ servers")
    if nats == {False} and len(parts) > 1:
        raise ValueError(
            "RabbitMQ takes one URL, not a list: reach a cluster through one address that "
            "leads to every node (a load balancer, a Kubernetes Service, a DNS name)"
        )
    logins = {(p.username, p.password) for p in parts if p.username is not None}
    if len(logins) > 1:
        raise ValueError("the servers of the list carry different credentials: give one user")
    return ",".join(servers)


def shown_servers(url: str) -> str:
    """The servers of `url` without credentials, for messages: `a:4222,b:4222`."""
    return ",".join(s.partition("://")[2].rpartition("@")[2] or s for s in broker_servers(url))


@dataclass(frozen=True)
class NatsLogin:
    """What a NATS client connects with: the servers, and the credentials apart."""

    servers: list[str]
    user: str | None = None
    password: str | None = None
    token: str | None = None  # `nats://<token>@host`: a user name without a password


def nats_login(url: str) -> NatsLogin:
    """The servers of a NATS `url` without credentials, and the credentials they carried."""
    servers: list[str] = []
    user = password = None
    for server in broker_servers(url):
        parts = urlsplit(server)
        if parts.username is not None and user is None:
            user, password = parts.username, parts.password
        host = parts.netloc.rpartition("@")[2]
        servers.append(urlunsplit(parts._replace(netloc=host)))
    if user is not None and password is None:
        return NatsLogin(servers, token=user)
    return NatsLogin(servers, user=user, password=password)
