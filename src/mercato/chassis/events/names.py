"""Names on the event bus that both brokers accept: the namespace and consumer names.

The namespace prefixes every stream, exchange and queue of the bus (NATS
`<NAMESPACE>_EVENTS` with subjects `<namespace>.events.>`, RabbitMQ exchange
`<namespace>.events` and queues `<namespace>.<consumer>`), so that several systems
or test runs share one broker without seeing each other's events. NATS subjects and
RabbitMQ names use it in lower case: two namespaces that differ only in case are the
same namespace on RabbitMQ, and clash on NATS (their subjects overlap).
`events_stream`, `events_subject` and `events_exchange` give those names, for the
buses and for the documents that tell clients where each event type goes
(`mercato.chassis.events.asyncapi`).

A NATS client's reply inboxes are `_INBOX.<service>.<...>` (`inbox_prefix`), so that
a broker user may subscribe to its own replies and to nobody else's. The operator's
tools (`mercato dead-letters`) connect as `OPERATOR`; the logs service's dead-letter
API (`/api/logs/dead-letters`, for the operations console) as `DEAD_LETTERS`, a user
that may list and replay the dead letters and nothing else an operator may.

This module is outside `mercato.chassis.events` so that the settings, which every
process reads (the launcher too), can check a namespace without importing the
broker clients.
"""

from __future__ import annotations

import re

__all__ = [
    "DEAD_LETTERS",
    "DEFAULT_NAMESPACE",
    "OPERATOR",
    "check_name",
    "check_namespace",
    "events_exchange",
    "events_stream",
    "events_subject",
    "inbox_prefix",
]

DEFAULT_NAMESPACE = "MERCATO"
OPERATOR = "mercato-admin"
DEAD_LETTERS = "mercato-dead-letters"
# A NATS stream or consumer name and an AMQP name part alike: no dots (NATS subject
# tokens), no wildcards (`*`, `>`), no spaces.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# RabbitMQ refuses exchanges and queues named `amq.*` (ACCESS_REFUSED), and a
# namespace's RabbitMQ names are `<namespace in lower case>.<...>`.
_RESERVED_NAMESPACES = frozenset({"amq"})


def check_name(kind: str, value: str) -> str:
    """`value` when it is 1-64 letters, digits, '_' or '-'; ValueError naming `kind` if not."""
    if not _NAME.match(value):
        raise ValueError(f"{kind} {value!r}: use 1-64 letters, digits, '_' or '-'")
    return value


def check_namespace(value: str) -> str:
    """`value` when both brokers accept it as a namespace; ValueError if not."""
    check_name("namespace", value)
    if value.lower() in _RESERVED_NAMESPACES:
        raise ValueError(f"namespace {value!r}: RabbitMQ reserves names beginning with 'amq.'")
    return value


def inbox_prefix(service: str) -> str:
    """The subject prefix of `service`'s NATS reply inboxes."""
    return f"_INBOX.{check_name('service', service)}"


def events_stream(namespace: str) -> str:
    """The NATS JetStream stream of a namespace's events (`MERCATO_EVENTS`)."""
    return f"{namespace}_EVENTS"


def events_subject(namespace: str, event_type: str) -> str:
    """The NATS subject of an event type (`mercato.events.order.placed`); `>`: all of them."""
    return f"{namespace.lower()}.events.{event_type}"


def events_exchange(namespace: str) -> str:
    """The RabbitMQ topic exchange of a namespace's events, routed by event type."""
    return f"{namespace.lower()}.events"
