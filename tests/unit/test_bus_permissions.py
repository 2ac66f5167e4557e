"""Unit tests of the broker rights each service gets, read as the brokers read them."""

from __future__ import annotations

import re

from mercato.chassis.events.permissions import (
    ALL_TYPES,
    nats_permissions,
    rabbit_permissions,
    role,
)
from mercato.contracts.events import PRODUCERS, SCHEMAS, published_by


def test_every_event_type_has_one_producer_and_a_schema() -> None:
    assert {event_type for event_type, _ in SCHEMAS} == set(PRODUCERS)
    assert published_by("payments") == ["payment.failed", "payment.refunded", "payment.succeeded"]
    assert published_by("gateway") == []


def test_a_single_type_consumer_has_its_filter_pinned_on_nats() -> None:
    users = role("users", ["user.registered"])
    allowed = nats_permissions("MERCATO", users, ["users", "logs"])["publish"]["allow"]
    creates = [s for s in allowed if s.startswith("$JS.API.CONSUMER.CREATE.MERCATO_EVENTS.users")]
    assert creates == [
        "$JS.API.CONSUMER.CREATE.MERCATO_EVENTS.users.mercato.events.user.registered"
    ]
    assert "mercato.events.user.profile_updated" in allowed
    assert not any(s.startswith("mercato.events.user.registered") for s in allowed)


def test_rabbit_topic_rights_let_a_service_publish_only_its_own_types() -> None:
    catalog = rabbit_permissions("MERCATO", role("catalog"))
    write, read = catalog.topics["mercato.events"]
    assert re.match(write, "product.created") and re.match(write, "inventory.reserved")
    assert not re.match(write, "payment.refunded") and not re.match(write, "product.created.x")
    assert re.match(read, "auth.token_revoked") and not re.match(read, "#")
    assert not re.match(catalog.read, "mercato.dead-letters")
    assert not re.match(catalog.configure, "mercato.logs")


def test_rabbit_rights_of_a_consumer_cover_its_queue_and_delays_only() -> None:
    users = rabbit_permissions("MERCATO", role("users", ["user.registered"]))
    for name in ("mercato.users", "mercato.retry.users.1000", "mercato.stream.auth.token_revoked"):
        assert re.match(users.read, name) and re.match(users.configure, name)
    for name in ("mercato.logs", "mercato.retry.logs.1000", "mercato.dead-letters", "amq.default"):
        assert not re.match(users.read, name), name
    assert not re.match(users.write, "amq.default")  # no publishing into any queue
    dead_write, dead_read = users.topics["mercato.dlx"]
    assert re.match(dead_write, "users.user.registered")
    assert not re.match(dead_write, "logs.user.registered")
    assert re.match(dead_read, "users.#") and not re.match(dead_read, "#")
    logs = rabbit_permissions("MERCATO", role("logs", [ALL_TYPES]))
    assert re.match(logs.topics["mercato.events"][1], "#")
