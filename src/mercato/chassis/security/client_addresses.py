"""Who the client is: the one rule for forwarding headers, for the gateway and services.

`X-Forwarded-For` is believed only from a trusted proxy, and the client is then the
right-most address of the chain that is not a trusted proxy (the left-most entries
are whatever the client chose to send). A proxy is trusted when

- at the edge (the gateway), its address is in `trusted_proxies`
  (`MERCATO_TRUSTED_PROXIES`: the networks of the ingress or load balancer in front
  of the gateway);
- behind the gateway (a service), it proves it is the gateway: the request carries,
  in `X-Mercato-Proxy-Token`, a service token of a `FORWARDERS` client whose audience
  is this service. Its address is not enough there: in a cluster every pod shares
  the pod network. The entries of the chain before the gateway are then judged by
  `trusted_proxies`, as the gateway judged them. The storefront (`web`) forwards the
  same way: a shopper's calls carry the shopper's address and its own token. The
  gateway gets its token from auth
  with its client credentials (`chassis.client.service_tokens`); a service checks it only
  when it needs the client address (auth's login throttling), with its usual token
  verifier, which caches it.

Why not the network alone: under `mercato up` every process is on 127.0.0.1, so
trusting loopback would believe any local process's `X-Forwarded-For`, and trusting
nothing would put every client behind the gateway in one bucket. A local process
has no gateway token (the client secrets are owner-only), so a request sent
straight to a service with a made-up `X-Forwarded-For` counts against its real
peer. See docs/decisions.md.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

from mercato.chassis.web.errors import ProblemError

if TYPE_CHECKING:
    from starlette.requests import Request

    from mercato.chassis.security.tokens import TokenVerifier

__all__ = [
    "FORWARDERS",
    "PROXY_TOKEN_HEADER",
    "ClientAddresses",
    "client_address",
    "parse_networks",
]

log = logging.getLogger("mercato.client_addresses")
PROXY_TOKEN_HEADER = "X-Mercato-Proxy-Token"
# Client ids whose forwarding headers are believed: the gateway, and the storefront,
# which calls the services on behalf of the shoppers whose requests it serves.
FORWARDERS = frozenset({"gateway", "web"})
MAX_ADDRESS_LENGTH = 100  # a throttling key, not a log of what a proxy wrote

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(values: Iterable[str]) -> tuple[Network, ...]:
    """IP networks from addresses or CIDRs; ValueError naming a bad one."""
    networks: list[Network] = []
    for value in values:
        try:
            networks.append(ipaddress.ip_network(str(value).strip(), strict=False))
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address or network") from None
    return tuple(networks)


class ClientAddresses:
    """The client's address from the peer and `X-Forwarded-For`, given trusted proxies."""

    def __init__(self, trusted_proxies: Iterable[str] = ()) -> None:
        self.networks = parse_networks(trusted_proxies)

    def is_trusted(self, address: str) -> bool:
        """Whether `address` is in a trusted proxy network."""
        if not self.networks:
            return False
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def client(
        self, peer: str, forwarded_for: str | None, *, peer_trusted: bool | None = None
    ) -> str:
        """The right-most untrusted address of `forwarded_for, peer`.

        `peer_trusted` overrides the network check of the peer itself (a gateway that
        proved its hop); the entries of `forwarded_for` are trusted by network only.
        """
        trusted = self.is_trusted(peer) if peer_trusted is None else peer_trusted
        if not forwarded_for or not trusted:
            return peer
        for hop in reversed(forwarded_for.split(",")):
            address = hop.strip()
            if address and not self.is_trusted(address):
                return address[:MAX_ADDRESS_LENGTH]
        return peer


async def _proven_forwarder(verifier: TokenVerifier, token: str | None, audience: str) -> bool:
    """Whether `token` is a `FORWARDERS` service token for `audience`."""
    if not token:
        return False
    try:
        principal = await verifier.verify(token)
    except ProblemError:
        return False
    client_id = principal.subject.removeprefix("service:")
    return (
        principal.is_service and client_id in FORWARDERS and principal.claims.get("aud") == audience
    )


async def client_address(request: Request, *, honour_forwarded: bool = True) -> str:
    """The address of the client of `request` in a service, by the rule above."""
    runtime = request.app.state.runtime
    peer = request.client.host if request.client else "unknown"
    forwarded = ", ".join(request.headers.getlist("x-forwarded-for"))
    if not forwarded or not honour_forwarded:
        return peer
    addresses: ClientAddresses = runtime.addresses
    proven = await _proven_forwarder(
        runtime.verifier, request.headers.get(PROXY_TOKEN_HEADER), runtime.spec.name
    )
    return addresses.client(peer, forwarded, peer_trusted=proven)
