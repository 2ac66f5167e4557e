"""The event bus of the chassis: envelope, outbox, relay, transports, consumers.

A service writes events with `Outbox.add` in the transaction of its change; the
`OutboxRelay` publishes them through an `EventBus` (`connect_bus` picks NATS
JetStream or RabbitMQ from the URL); an `IdempotentConsumer` hands each
event to the service's handler exactly once per effect, and events that keep
failing end in the dead letters, which `admin` lists and replays.
"""

from mercato.chassis.events.admin import list_dead_letters, replay_dead_letter
from mercato.chassis.events.bus import (
    DEFAULT_NAMESPACE,
    EVENT_RETENTION,
    BusError,
    BusUnavailable,
    DeadLetterNotFound,
    DependencyUnavailable,
    EventBus,
    EventHandler,
    PoisonEvent,
    Subscription,
)
from mercato.chassis.events.consumer import ALL_EVENTS, IdempotentConsumer, SessionHandler
from mercato.chassis.events.dead_letters import DeadLetter
from mercato.chassis.events.envelope import Event
from mercato.chassis.events.outbox import Outbox
from mercato.chassis.events.relay import OutboxRelay
from mercato.chassis.events.tables import (
    EventTables,
    create_event_tables,
    create_handled_index,
    create_published_index,
    drop_event_tables,
    drop_handled_index,
    drop_published_index,
    event_tables,
)
from mercato.chassis.events.transports import connect_bus

__all__ = [
    "ALL_EVENTS",
    "DEFAULT_NAMESPACE",
    "EVENT_RETENTION",
    "BusError",
    "BusUnavailable",
    "DeadLetter",
    "DeadLetterNotFound",
    "DependencyUnavailable",
    "Event",
    "EventBus",
    "EventHandler",
    "EventTables",
    "IdempotentConsumer",
    "Outbox",
    "OutboxRelay",
    "PoisonEvent",
    "SessionHandler",
    "Subscription",
    "connect_bus",
    "create_event_tables",
    "create_handled_index",
    "create_published_index",
    "drop_event_tables",
    "drop_handled_index",
    "drop_published_index",
    "event_tables",
    "list_dead_letters",
    "replay_dead_letter",
]
