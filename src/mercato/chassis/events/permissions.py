"""What each service may do on the broker: its NATS permissions and RabbitMQ rights.

A `BusRole` says what one service does on the bus: the event types it publishes
(`mercato.contracts.events.PRODUCERS`), those its durable consumer takes (its
`ServiceSpec.handlers`; `">"` for every type) and those it tails (every service tails
`auth.token_revoked` for its revocation list). From it come

- `nats_permissions`: a NATS user's `publish`/`subscribe` allow and deny lists: its
  own event subjects, the JetStream API calls its code makes, named per stream and
  per consumer (its own consumer's info too: its lag, in its metrics), and its own
  reply inboxes (`_INBOX.<service>.>`, see
  `bus_names.inbox_prefix`), so that no user sees another's replies;
- `rabbit_permissions`: RabbitMQ's per-vhost configure/write/read patterns and the
  topic patterns of the events exchange (write: its own routing keys; read: the
  binding keys of what it consumes) and of the dead-letter exchange.

Besides the services, two users that are not a service: the operator (`mercato
dead-letters` and the like: every right on the streams) and `DEAD_LETTERS`, whose
credentials the logs service holds for its dead-letter API (the operations console):
list the dead letters, read the events they name, publish a replayed event again and
remove its dead letter (`nats_dead_letter_permissions`, `rabbit_dead_letter_permissions`);
it may not change a stream or read any consumer.

Every subject and name here is the one `nats_bus`/`rabbit_bus` use for a namespace;
`tests/security/test_bus.py` proves on real servers that these rights are enough
for the bus code and refuse the rest. What had to stay broad, and why, is in
docs/decisions.md.

This module is outside `mercato.chassis.events` so that the launcher can build a
broker's configuration without importing the broker clients.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from mercato.chassis.events.names import (
    DEAD_LETTERS,
    OPERATOR,
    events_stream,
    events_subject,
    inbox_prefix,
)
from mercato.contracts.events import published_by

__all__ = [
    "ALL_TYPES",
    "TOKEN_REVOKED",
    "BusRole",
    "NatsPermissions",
    "RabbitPermissions",
    "nats_dead_letter_permissions",
    "nats_operator_permissions",
    "nats_permissions",
    "rabbit_dead_letter_permissions",
    "rabbit_permissions",
    "role",
]

ALL_TYPES = ">"  # a consumer of every event type (the audit log)
TOKEN_REVOKED = "auth.token_revoked"  # tailed by every service's runtime
NatsPermissions = dict[str, dict[str, list[str]]]


@dataclass(frozen=True)
class BusRole:
    """What one service does on the bus."""

    name: str
    publishes: tuple[str, ...] = ()
    consumes: tuple[str, ...] = ()
    tails: tuple[str, ...] = (TOKEN_REVOKED,)

    @property
    def consumes_all(self) -> bool:
        """Whether its consumer takes every event type."""
        return ALL_TYPES in self.consumes


def role(
    name: str, consumes: Iterable[str] = (), *, tails: Sequence[str] = (TOKEN_REVOKED,)
) -> BusRole:
    """The role of service `name`, publishing the types the contracts give it."""
    return BusRole(name, tuple(published_by(name)), tuple(sorted(set(consumes))), tuple(tails))


@dataclass(frozen=True)
class _Nats:
    """The NATS names of one namespace (as `NatsBus` builds them)."""

    namespace: str
    events: str = field(init=False)
    dlq: str = field(init=False)
    prefix: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "events", events_stream(self.namespace))
        object.__setattr__(self, "dlq", f"{self.namespace}_DLQ")
        object.__setattr__(self, "prefix", self.namespace.lower())

    def subject(self, event_type: str) -> str:
        return events_subject(self.namespace, event_type)

    def api(self, call: str, *names: str) -> str:
        return ".".join(("$JS.API", call, *names))


def nats_permissions(namespace: str, svc: BusRole, durables: Iterable[str] = ()) -> NatsPermissions:
    """The NATS permissions of `svc`; `durables` are every service's durable consumers."""
    n = _Nats(namespace)
    allow = [n.subject(t) for t in svc.publishes]
    # Declaring the streams is creating them (idempotent for the same configuration);
    # changing an existing stream (UPDATE) is the operator's.
    allow += [n.api("STREAM.CREATE", n.events), n.api("STREAM.CREATE", n.dlq)]
    allow += [n.api("STREAM.INFO", n.events)]
    deny: list[str] = []
    if svc.consumes:
        me = svc.name
        if svc.consumes_all:
            allow.append(n.api("CONSUMER.CREATE", n.events, me, n.subject(">")))
            allow.append(f"{n.prefix}.dlq.{me}.>")
        elif len(svc.consumes) == 1:
            # The filter is part of the subject, and the server checks it against the
            # request: this consumer can only ever be created for this one type.
            allow.append(n.api("CONSUMER.CREATE", n.events, me, n.subject(svc.consumes[0])))
        else:  # several filters: the subject cannot carry them (see docs/decisions.md)
            allow.append(n.api("CONSUMER.CREATE", n.events, me))
        if not svc.consumes_all:
            allow += [f"{n.prefix}.dlq.{me}.{t}" for t in svc.consumes]
        allow.append(n.api("CONSUMER.MSG.NEXT", n.events, me))
        allow.append(n.api("CONSUMER.INFO", n.events, me))  # its own lag, for its metrics
        # Acknowledgements go to the reply subject of each message, in the server's
        # short ($JS.ACK.<stream>...) or long ($JS.ACK.<domain>.<account>...) form.
        allow += [f"$JS.ACK.{n.events}.{me}.>", f"$JS.ACK.*.*.{n.events}.{me}.>"]
    if svc.tails:
        # A tail's consumer has a random name, so the name is a wildcard; its filter is
        # pinned in the subject, and every other service's durable consumer is denied.
        allow += [n.api("CONSUMER.CREATE", n.events, "*", n.subject(t)) for t in svc.tails]
        allow += [n.api("CONSUMER.MSG.NEXT", n.events, "*")]
        allow += [n.api("CONSUMER.DELETE", n.events, "*")]
        if svc.consumes:  # its own durable consumer is created, never deleted
            deny.append(n.api("CONSUMER.DELETE", n.events, svc.name))
        for other in sorted(set(durables) - {svc.name}):
            # CONSUMER.<call>, and the two-token MSG.NEXT and DURABLE.CREATE
            deny += [
                n.api("CONSUMER.*", n.events, other),
                n.api("CONSUMER.*", n.events, other, ">"),
                n.api("CONSUMER.*.*", n.events, other),
            ]
    permissions: NatsPermissions = {
        "publish": {"allow": allow},
        "subscribe": {"allow": [f"{inbox_prefix(svc.name)}.>"]},
    }
    if deny:
        permissions["publish"]["deny"] = deny
    return permissions


def nats_operator_permissions(namespace: str) -> NatsPermissions:
    """The operator's (`mercato dead-letters list|replay`): streams, dead letters, lag."""
    n = _Nats(namespace)
    allow = [n.subject(">")]  # a replayed event goes out on its own type's subject
    for stream in (n.events, n.dlq):
        allow += [n.api(call, stream) for call in ("STREAM.CREATE", "STREAM.UPDATE", "STREAM.INFO")]
    allow += [n.api("STREAM.MSG.GET", n.dlq), n.api("STREAM.MSG.DELETE", n.dlq)]
    allow.append(n.api("STREAM.MSG.GET", n.events))  # a dead letter's event, as published
    allow.append(n.api("CONSUMER.INFO", n.events, "*"))  # a consumer's lag, for monitoring
    return {
        "publish": {"allow": allow},
        "subscribe": {"allow": [f"{inbox_prefix(OPERATOR)}.>"]},
    }


def nats_dead_letter_permissions(namespace: str) -> NatsPermissions:
    """`DEAD_LETTERS`' (the logs service's dead-letter API): list, read, replay, remove.

    What `NatsBus.dead_letters` and `NatsBus.replay` do and no more: declare the two
    streams at connect (creating is idempotent; it may not change one), read the
    dead-letter stream and the events stream by sequence, publish a replayed event on
    its type's subject (a replay checks that it is the very event the stream holds),
    delete the dead letter replayed.
    """
    n = _Nats(namespace)
    allow = [n.subject(">")]
    allow += [n.api("STREAM.CREATE", stream) for stream in (n.events, n.dlq)]
    allow += [n.api("STREAM.INFO", stream) for stream in (n.events, n.dlq)]
    allow += [n.api("STREAM.MSG.GET", n.dlq), n.api("STREAM.MSG.DELETE", n.dlq)]
    allow.append(n.api("STREAM.MSG.GET", n.events))
    return {
        "publish": {"allow": allow},
        "subscribe": {"allow": [f"{inbox_prefix(DEAD_LETTERS)}.>"]},
    }


@dataclass(frozen=True)
class RabbitPermissions:
    """A RabbitMQ user's rights in one vhost (regular expressions, as RabbitMQ takes them)."""

    configure: str
    write: str
    read: str
    topics: dict[str, tuple[str, str]]  # exchange -> (write, read) routing-key patterns


NOTHING = "^$"


def _any_of(names: Iterable[str]) -> str:
    escaped = [re.escape(name) for name in names]
    return f"^({'|'.join(escaped)})$" if escaped else NOTHING


def rabbit_permissions(namespace: str, svc: BusRole) -> RabbitPermissions:
    """The RabbitMQ rights of `svc` in its vhost (names as `rabbit_topology` builds them)."""
    p = namespace.lower()
    events = f"{p}.events"
    declare = [events]  # every service declares the events exchange at connect
    write = [events] if svc.publishes else []
    read: list[str] = []
    topics: dict[str, tuple[str, str]] = {}
    streams = [f"{p}.stream.{t}" for t in svc.tails]
    declare += streams
    write += streams  # the binding of a stream to the events exchange
    read += streams
    if svc.tails or svc.consumes:
        read.append(events)  # binding a queue to it
    if svc.consumes:
        queue, dlx, dead = f"{p}.{svc.name}", f"{p}.dlx", f"{p}.dead-letters"
        retries = f"{p}.retry.{svc.name}."
        declare += [queue, dlx, dead]
        write += [queue, dlx, dead]
        read += [queue, dlx]
        retry = "|" + re.escape(retries[:-1]) + r"(\.[0-9]+)?"  # delays, and the way back
        own_dead = re.escape(svc.name) + r"\."
        dead_keys = own_dead + (".*" if svc.consumes_all else _any_of(svc.consumes)[1:-1])
        topics[dlx] = (f"^{dead_keys}$", f"^{own_dead}#$")
    else:
        retry = ""
    consumed = (
        ".*" if svc.consumes_all else "|".join(re.escape(t) for t in (*svc.consumes, *svc.tails))
    )
    topics[events] = (_any_of(svc.publishes), f"^({consumed})$" if consumed else NOTHING)

    def pattern(names: list[str]) -> str:
        body = "|".join(re.escape(name) for name in names) + (retry if names else "")
        return f"^({body})$" if body else NOTHING

    return RabbitPermissions(pattern(declare), pattern(write), pattern(read), topics)


def rabbit_dead_letter_permissions(namespace: str) -> RabbitPermissions:
    """`DEAD_LETTERS`' RabbitMQ rights: the dead-letter queue, and sending a replay back.

    It declares the events exchange, the dead-letter exchange and queue (as every
    user of the dead letters does, unbound), takes and gives back the messages of the
    dead-letter queue, and sends a replayed event to the queue of the consumer that
    failed it through the default exchange (`amq.default`). It may not read a
    consumer's queue, publish on the events exchange or bind anything.
    """
    p = namespace.lower()
    dead = f"{p}.dead-letters"
    return RabbitPermissions(
        configure=_any_of([f"{p}.events", f"{p}.dlx", dead]),
        write=_any_of(["amq.default"]),
        read=_any_of([dead]),
        topics={},
    )
