"""Choosing the event bus transport from the broker URL.

`nats://` (or `tls://`) gives NATS JetStream, the default broker, and may list a
cluster's servers comma-separated; `amqp://` (or `amqps://`) gives RabbitMQ
(`broker_urls`). Everything above this module sees only `EventBus`.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from mercato.chassis.events.broker_urls import AMQP_SCHEMES, NATS_SCHEMES, check_broker_url
from mercato.chassis.events.bus import DEFAULT_NAMESPACE, EventBus
from mercato.chassis.events.nats.bus import NatsBus
from mercato.chassis.events.rabbit.bus import RabbitBus
from mercato.chassis.telemetry.event_metrics import ConsumerMetrics

__all__ = ["connect_bus", "messaging_system"]


def connect_bus(
    url: str,
    *,
    service: str,
    namespace: str = DEFAULT_NAMESPACE,
    retry_delay: float = 1.0,
    ack_wait: float = 30.0,
    replicas: int | None = 1,
    metrics: ConsumerMetrics | None = None,
    tails: Sequence[str] | None = None,
) -> EventBus:
    """The bus for `url`'s transport, not connected yet (call `connect()`).

    `namespace` names the streams, exchanges and queues (NATS `<NAMESPACE>_EVENTS`,
    RabbitMQ `<namespace>.events`), so that tests or tenants can share a broker;
    `retry_delay` is the first delay before a failed event is delivered again (it
    doubles with every attempt). `ack_wait` is how long NATS waits for a delivered
    event's acknowledgement before delivering it again; RabbitMQ has no such timer
    and delivers a consumer's unacknowledged events again when its connection drops.
    `replicas` is the copies the broker keeps of each event (`MERCATO_EVENT_REPLICAS`;
    None: whatever the streams and queues have, for the operator's tools). `metrics`
    counts how the deliveries to its durable consumers end. `tails` are the event
    types whose RabbitMQ streams it declares at connect, for its tails (default: the
    revocations every service tails; none for a tool that tails nothing).
    """
    url = check_broker_url(url)
    scheme = urlsplit(url).scheme.lower()
    bus: NatsBus | RabbitBus
    if scheme in NATS_SCHEMES:
        bus = NatsBus(
            url,
            service=service,
            namespace=namespace,
            retry_delay=retry_delay,
            ack_wait=ack_wait,
            replicas=replicas,
        )
    elif scheme in AMQP_SCHEMES:
        bus = RabbitBus(
            url, service=service, namespace=namespace, retry_delay=retry_delay, replicas=replicas
        )
        if tails is not None:
            bus.streams = tuple(tails)
    else:
        raise ValueError(f"unsupported broker URL scheme {scheme!r}: use nats:// or amqp://")
    bus.metrics = metrics
    return bus


def messaging_system(url: str) -> str:
    """The broker of `url` as OpenTelemetry names messaging systems: `nats` or `rabbitmq`."""
    return "rabbitmq" if urlsplit(url).scheme.lower() in AMQP_SCHEMES else "nats"
