"""Contract tests of the AsyncAPI document: valid AsyncAPI 3.0, and true to the consumers.

The document (`mercato.chassis.events.asyncapi`) is validated against the official
AsyncAPI 3.0.0 JSON Schema, vendored under `tests/data/asyncapi` from the
`@asyncapi/specs` package. Then, for every (type, version) of the contracts, the
payload schema it states is the one the consumers validate with
(`mercato.contracts.events.validate`, which is `SCHEMAS[...]`'s validation): the
same schema once every reference is resolved, and the same verdict on the example
it gives and on that example broken. Its addresses are the names the buses use.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import ValidationError

from mercato.chassis.events import Event
from mercato.chassis.events.asyncapi import asyncapi_document, channel_id, message_id
from mercato.chassis.events.nats.bus import NatsBus
from mercato.chassis.events.rabbit.topology import Features, Topology
from mercato.contracts.event_examples import EXAMPLES
from mercato.contracts.events import PRODUCERS, SCHEMAS, validate

SPEC = Path(__file__).parents[1] / "data" / "asyncapi" / "3.0.0.json"
KEYS = sorted(SCHEMAS)


@cache
def spec() -> dict[str, Any]:
    """The official AsyncAPI 3.0.0 JSON Schema."""
    loaded: dict[str, Any] = json.loads(SPEC.read_text())
    return loaded


def document(namespace: str = "MERCATO") -> dict[str, Any]:
    """The document as a client reads it: through JSON."""
    loaded: dict[str, Any] = json.loads(json.dumps(asyncapi_document(namespace)))
    return loaded


def resolved(value: Any, root: dict[str, Any]) -> Any:
    """`value` with every local `$ref` replaced by what it names in `root`."""
    if isinstance(value, dict):
        if "$ref" in value:
            target: Any = root
            for part in value["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            siblings = {k: v for k, v in value.items() if k != "$ref"}
            return resolved({**target, **siblings}, root)
        return {key: resolved(item, root) for key, item in value.items()}
    if isinstance(value, list):
        return [resolved(item, root) for item in value]
    return value


def without_defs(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic schema with its `$defs` inlined, as the document's are once resolved."""
    return {k: v for k, v in resolved(schema, schema).items() if k != "$defs"}


def payload_validator(doc: dict[str, Any], key: tuple[str, int]) -> jsonschema.Validator:
    """A validator of the payload of `key`'s message, its references within `doc`."""
    payload = doc["components"]["messages"][message_id(*key)]["payload"]
    return jsonschema.Draft7Validator({**payload, "components": doc["components"]})


def test_the_document_is_valid_asyncapi_3() -> None:
    assert spec()["title"] == "AsyncAPI 3.0.0 schema."
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    jsonschema.Draft7Validator(spec()).validate(doc)


def test_the_validation_catches_a_broken_document() -> None:
    doc = document()
    doc["operations"]["orders_publishes_order_placed"]["action"] = "publish"  # AsyncAPI 2's
    del doc["channels"]["order_placed"]["bindings"]["amqp"]["exchange"]["type"]
    doc["channels"]["order_placed"]["bindings"]["amqp"]["is"] = "topic"
    errors = list(jsonschema.Draft7Validator(spec()).iter_errors(doc))
    assert errors


def test_every_type_has_a_channel_its_producer_publishes_on() -> None:
    doc = document()
    types = {event_type for event_type, _ in SCHEMAS}
    assert set(doc["channels"]) == {channel_id(t) for t in types}
    assert set(doc["operations"]) == {f"{PRODUCERS[t]}_publishes_{channel_id(t)}" for t in types}
    for event_type in types:
        operation = doc["operations"][f"{PRODUCERS[event_type]}_publishes_{channel_id(event_type)}"]
        assert operation["action"] == "send"
        assert operation["channel"] == {"$ref": f"#/channels/{channel_id(event_type)}"}
        assert operation["bindings"]["amqp"]["cc"] == [event_type]
    assert set(doc["components"]["messages"]) == {message_id(*key) for key in KEYS}


@pytest.mark.parametrize("namespace", ["MERCATO", "Test_7"])
def test_the_addresses_are_the_buses_names(namespace: str) -> None:
    doc = document(namespace)
    nats = NatsBus("nats://127.0.0.1:4222", service="docs", namespace=namespace)
    rabbit = Topology(namespace, Features((3, 13)), delivery_limit=20)
    for event_type, _ in KEYS:
        channel = doc["channels"][channel_id(event_type)]
        assert channel["address"] == nats.subject(event_type)
        assert channel["bindings"]["amqp"]["exchange"]["name"] == rabbit.exchange
    assert nats.stream in doc["servers"]["nats"]["description"]
    assert rabbit.exchange in doc["servers"]["amqp"]["description"]


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k}")
def test_the_data_schema_is_the_one_consumers_validate_with(key: tuple[str, int]) -> None:
    doc = document()
    event_type, version = key
    message = doc["components"]["messages"][message_id(*key)]
    envelope, fixed = message["payload"]["allOf"]
    stated = resolved(fixed["properties"]["data"], doc)
    consumers = SCHEMAS[key].model_json_schema(mode="validation")
    assert stated == without_defs(consumers)
    assert fixed["properties"]["type"] == {"const": event_type}
    assert fixed["properties"]["version"] == {"const": version}
    assert fixed["properties"]["source"] == {"const": PRODUCERS[event_type]}
    assert resolved(envelope, doc) == without_defs(Event.model_json_schema(mode="validation"))


@pytest.mark.parametrize("key", KEYS, ids=lambda k: f"{k}")
def test_the_document_and_the_consumers_agree_on_an_example(key: tuple[str, int]) -> None:
    doc = document()
    [example] = doc["components"]["messages"][message_id(*key)]["examples"]
    payload = example["payload"]
    check = payload_validator(doc, key)
    check.validate(payload)
    assert Event.model_validate(payload).data == payload["data"]
    assert validate(*key, payload["data"]) == EXAMPLES[key].data

    broken = copy.deepcopy(payload)
    required = SCHEMAS[key].model_json_schema()["required"]
    del broken["data"][required[0]]
    assert list(check.iter_errors(broken))
    with pytest.raises(ValidationError):
        validate(*key, broken["data"])

    wrong_source = {**payload, "source": "gateway"}
    assert list(check.iter_errors(wrong_source))  # consumers refuse it too (a forgery)


def test_every_schema_has_an_example_of_its_own_class() -> None:
    assert sorted(EXAMPLES) == KEYS
    for key, example in EXAMPLES.items():
        assert type(example.data) is SCHEMAS[key]
        assert example.subject


def test_unknown_fields_are_allowed_as_the_consumers_allow_them() -> None:
    doc = document()
    key = ("order.placed", 1)
    [example] = doc["components"]["messages"][message_id(*key)]["examples"]
    payload = copy.deepcopy(example["payload"])
    payload["data"]["gift_wrap"] = True  # a producer may add a field
    payload_validator(doc, key).validate(payload)
    assert validate(*key, payload["data"]) is not None
