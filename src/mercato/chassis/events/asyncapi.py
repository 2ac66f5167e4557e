"""The AsyncAPI 3.0 document of the event bus, generated from the contracts.

Nothing in it is written by hand: the channels, messages and payload schemas come
from `mercato.contracts.events` (`SCHEMAS`, each class's `TYPE` and `VERSION`, and
`PRODUCERS`), the envelope from `chassis.events.envelope.Event`, the names on the
brokers from `chassis.events.names`, and the examples from
`mercato.contracts.event_examples`. So the document cannot drift from what the
producers write and the consumers validate: a new event type is a class in the
contracts, and it is here.

The layout:

- `servers`: `nats` (JetStream) and `amqp` (RabbitMQ), either of which the system
  runs on; their host is a variable, because the document never names a host of a
  running system;
- a channel per event type, its `address` the NATS subject
  (`<namespace>.events.<type>`) and its AMQP binding the topic exchange
  (`<namespace>.events`, the type being the routing key);
- a message per (type, version): the envelope as payload with `type`, `version`
  and `source` fixed and `data` in the schema of the data class (validation mode,
  as consumers validate it), and the broker headers (`Nats-Msg-Id`, `traceparent`);
- an operation per type, `<producer>_publishes_<type>`: the one service that may
  send it (the broker's rights enforce that).

The gateway serves it (see `mercato.gateway.operator`); its tests validate it
against the official AsyncAPI 3.0.0 JSON Schema.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from mercato.chassis.events.envelope import Event
from mercato.chassis.events.names import (
    DEFAULT_NAMESPACE,
    events_exchange,
    events_stream,
    events_subject,
)
from mercato.contracts.event_examples import EXAMPLES
from mercato.contracts.events import PRODUCERS, SCHEMAS, EventData

__all__ = ["ASYNCAPI_VERSION", "asyncapi_document", "channel_id", "message_id"]

ASYNCAPI_VERSION = "3.0.0"
AMQP_BINDING_VERSION = "0.3.0"
REF = "#/components/schemas/{model}"
ENVELOPE = "Envelope"
HEADERS = "EventHeaders"
EXAMPLE_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
EXAMPLE_TIME = "2026-01-01T12:00:00Z"
EXAMPLE_TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
_ID = re.compile(r"[^A-Za-z0-9_-]")

_DESCRIPTION = """\
The domain events of Mercato. Every event is one JSON object, the envelope: `id`
(a UUID, also the broker's de-duplication id and the consumers' inbox key), `type`,
`version`, `occurred_at`, `source` (the producer), `subject` (the aggregate's id),
`trace` (the W3C traceparent of the work that caused it) and `data`, whose schema
is given by (type, version).

Delivery is at least once: producers write events to an outbox in the transaction
of the change and a relay publishes them; consumers record the ids they handled, so
a redelivered event has no second effect, and an event that keeps failing goes to
the consumer's dead letters. A producer may add fields to `data` (consumers allow
unknown fields); renaming, removing or retyping a field, or adding a required one,
is a new version, published beside the old one until every consumer has moved.

Each service has its own broker user: it may publish only the types it produces and
read only what it consumes. Names carry the namespace (`MERCATO_BUS_NAMESPACE`,
lower case in subjects and exchanges): this document is written for `{namespace}`.
"""


def channel_id(event_type: str) -> str:
    """The channel of an event type in the document (`order.placed` -> `order_placed`)."""
    return _ID.sub("_", event_type.replace(".", "_"))


def message_id(event_type: str, version: int) -> str:
    """The message of one version of an event type (`order_placed_v1`)."""
    return f"{channel_id(event_type)}_v{version}"


def asyncapi_document(namespace: str = DEFAULT_NAMESPACE) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the events, with the names of `namespace`."""
    refs, schemas = _schemas()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for event_type in _types():
        producer = PRODUCERS.get(event_type)
        if producer is None:
            raise ValueError(f"{event_type}: no producer in mercato.contracts.events.PRODUCERS")
        channel = channel_id(event_type)
        if channel in channels:
            raise ValueError(f"{event_type}: its channel id {channel!r} is another type's")
        versions = sorted(v for t, v in SCHEMAS if t == event_type)
        for version in versions:
            schema = SCHEMAS[(event_type, version)]
            messages[message_id(event_type, version)] = _message(schema, producer, refs[schema])
        channels[channel] = _channel(namespace, event_type, versions)
        operations[f"{producer}_publishes_{channel}"] = _operation(event_type, producer, versions)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "id": "urn:mercato:events",
        "info": {
            "title": "Mercato events",
            "version": "1.0.0",
            "description": _DESCRIPTION.format(namespace=namespace),
            "tags": [{"name": service} for service in sorted(set(PRODUCERS.values()))],
        },
        "defaultContentType": "application/json",
        "servers": _servers(namespace),
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "securitySchemes": {
                "brokerUser": {
                    "type": "userPassword",
                    "description": "Each service's own broker user: it publishes only the "
                    "event types it produces and reads only those it consumes.",
                }
            },
        },
    }


def _types() -> list[str]:
    """The event types, in the order the contracts declare them."""
    return list(dict.fromkeys(event_type for event_type, _ in SCHEMAS))


@cache
def _schemas() -> tuple[dict[type[BaseModel], dict[str, Any]], dict[str, Any]]:
    """The reference of each data class, and every schema the document holds by name."""
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [
        (schema, "validation") for schema in SCHEMAS.values()
    ]
    keyed, top = models_json_schema([(Event, "validation"), *models], ref_template=REF)
    found: dict[str, Any] = dict(top.get("$defs", {}))
    envelope_name = keyed[(Event, "validation")]["$ref"].rsplit("/", 1)[1]
    envelope = found.pop(envelope_name)
    refs = {model: keyed[(model, mode)] for model, mode in models}
    return refs, {ENVELOPE: envelope, HEADERS: _headers_schema(), **found}


def _headers_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The headers an event is published with.",
        "properties": {
            "Nats-Msg-Id": {
                "type": "string",
                "description": "NATS only: the event id, by which JetStream drops a duplicate "
                "published within its de-duplication window. On RabbitMQ the id is the "
                "message's `message_id` property.",
            },
            "traceparent": {
                "type": "string",
                "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
                "description": "The envelope's `trace`, when it has one.",
            },
        },
    }


def _servers(namespace: str) -> dict[str, Any]:
    host = "The broker's host and port, from `MERCATO_BROKER_URL`"
    nats_host = {"description": f"{host} (a cluster's servers may be listed, comma-separated)."}
    amqp_host = {"description": f"{host} (one address, in front of a cluster's nodes)."}
    return {
        "nats": {
            "host": "{host}",
            "protocol": "nats",
            "title": "NATS JetStream",
            "description": f"The default broker. Stream `{events_stream(namespace)}` holds the "
            f"subjects `{events_subject(namespace, '>')}`; every event is published with "
            "`Nats-Msg-Id` set to its id.",
            "variables": {"host": {**nats_host, "default": "localhost:4222"}},
            "security": [{"$ref": "#/components/securitySchemes/brokerUser"}],
        },
        "amqp": {
            "host": "{host}",
            "protocol": "amqp",
            "protocolVersion": "0.9.1",
            "title": "RabbitMQ",
            "description": f"The alternative broker (an `amqp://` URL). Events go to the "
            f"topic exchange `{events_exchange(namespace)}` with their type as routing key, "
            "persistent, with the event id as `message_id` and the type as `type`.",
            "variables": {"host": {**amqp_host, "default": "localhost:5672"}},
            "security": [{"$ref": "#/components/securitySchemes/brokerUser"}],
        },
    }


def _channel(namespace: str, event_type: str, versions: list[int]) -> dict[str, Any]:
    subject, exchange = events_subject(namespace, event_type), events_exchange(namespace)
    return {
        "address": subject,
        "title": event_type,
        "description": f"NATS: subject `{subject}`. RabbitMQ: exchange `{exchange}`, "
        f"routing key `{event_type}`.",
        "messages": {
            (name := message_id(event_type, v)): {"$ref": f"#/components/messages/{name}"}
            for v in versions
        },
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {
                    "name": exchange,
                    "type": "topic",
                    "durable": True,
                    "autoDelete": False,
                },
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }


def _operation(event_type: str, producer: str, versions: list[int]) -> dict[str, Any]:
    channel = channel_id(event_type)
    return {
        "action": "send",
        "channel": {"$ref": f"#/channels/{channel}"},
        "title": f"{producer} publishes {event_type}",
        "summary": f"Only {producer} publishes `{event_type}`.",
        "tags": [{"name": producer}],
        "messages": [
            {"$ref": f"#/channels/{channel}/messages/{message_id(event_type, v)}"} for v in versions
        ],
        "bindings": {
            "amqp": {
                "cc": [event_type],
                "deliveryMode": 2,
                "timestamp": True,
                "bindingVersion": AMQP_BINDING_VERSION,
            }
        },
    }


def _message(schema: type[EventData], producer: str, data_ref: dict[str, Any]) -> dict[str, Any]:
    event_type, version = schema.TYPE, schema.VERSION
    message: dict[str, Any] = {
        "name": event_type,
        "title": f"{event_type} v{version}",
        "summary": (schema.__doc__ or event_type).strip().splitlines()[0],
        "contentType": "application/json",
        "tags": [{"name": producer}],
        "headers": {"$ref": REF.format(model=HEADERS)},
        "payload": {
            "allOf": [
                {"$ref": REF.format(model=ENVELOPE)},
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": event_type},
                        "version": {"const": version},
                        "source": {"const": producer},
                        "data": data_ref,
                    },
                },
            ]
        },
        "bindings": {"amqp": {"messageType": event_type, "bindingVersion": AMQP_BINDING_VERSION}},
    }
    example = EXAMPLES.get((event_type, version))
    if example is not None:
        message["examples"] = [
            {
                "name": f"{channel_id(event_type)}_example",
                "headers": {"Nats-Msg-Id": EXAMPLE_ID, "traceparent": EXAMPLE_TRACE},
                "payload": {
                    "id": EXAMPLE_ID,
                    "type": event_type,
                    "version": version,
                    "occurred_at": EXAMPLE_TIME,
                    "source": producer,
                    "subject": example.subject,
                    "trace": EXAMPLE_TRACE,
                    "data": example.data.model_dump(mode="json"),
                },
            }
        ]
    return message
