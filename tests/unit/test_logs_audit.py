"""Unit tests of the logs service's pure parts: the audit row of an event, settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mercato.chassis.config import SettingsError
from mercato.chassis.events import Event
from mercato.logs.service import audit_row, order_id_of, user_id_of
from mercato.logs.settings import load_settings


def new(event_type: str, subject: str = "s", **data: object) -> Event:
    """An event of `event_type` with `data`."""
    return Event.new(event_type, subject=subject, data=dict(data), source="tests")


def test_user_id_comes_from_data() -> None:
    assert user_id_of(new("user.registered", user_id="u-1")) == "u-1"
    assert user_id_of(new("payment.failed", user_id=7)) == "7"
    assert user_id_of(new("order.placed", subject="u-1")) is None
    for odd in (None, True, "", "x" * 201, ["u-1"], {"id": "u-1"}, 1.5):
        assert user_id_of(new("x.y", user_id=odd)) is None, odd


def test_order_id_comes_from_data_then_from_an_order_subject() -> None:
    assert order_id_of(new("payment.succeeded", subject="p-1", order_id="o-1")) == "o-1"
    assert order_id_of(new("order.placed", subject="o-2")) == "o-2"
    assert order_id_of(new("order.placed", subject="o-2", order_id="o-3")) == "o-3"
    assert order_id_of(new("orders_archive.done", subject="o-4")) is None
    assert order_id_of(new("product.changed", subject="p-1")) is None


def test_audit_row_keeps_the_envelope() -> None:
    event = new("giftcard.redeemed", subject="g-1", user_id="u-1", nested={"a": [1, 2]})
    now = datetime.now(UTC)
    row = audit_row(event, recorded_at=now)
    assert row["recorded_at"] is now and row["data"] == event.data
    envelope = {key: row[key] for key in Event.model_fields}
    assert Event.model_validate(envelope) == event


def test_settings_defaults_and_limits() -> None:
    settings = load_settings({})
    assert (settings.port, settings.retention_days) == (8160, 90)
    assert settings.retention_interval_seconds > 0
    assert load_settings({"MERCATO_LOGS_RETENTION_DAYS": "0"}).retention_days == 0
    with pytest.raises(SettingsError, match="MERCATO_LOGS_RETENTION_DAYS"):
        load_settings({"MERCATO_LOGS_RETENTION_DAYS": "-1"})
    with pytest.raises(SettingsError, match="RETENTION_INTERVAL_SECONDS"):
        load_settings({"MERCATO_RETENTION_INTERVAL_SECONDS": "0"})
