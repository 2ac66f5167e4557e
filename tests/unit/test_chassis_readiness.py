"""Unit tests of readiness: what a request needs decides it, the broker never does.

A service whose broker does not answer stays ready (its outbox keeps the events):
`/health/ready` answers 200, its checks name the database only, and what it reports
beside (`reported.broker`, the runtime's latest check of the broker) and the gauge
`events_broker_up` say that the broker is away. `BrokerWatch` is checked on its own
against buses that answer, fail, or hang.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from mercato.chassis.config import ServiceSettings
from mercato.chassis.events.broker_watch import BrokerWatch
from mercato.chassis.events.bus import BusUnavailable
from mercato.chassis.runtime import Runtime, ServiceSpec
from mercato.chassis.telemetry.event_metrics import BrokerMetrics
from mercato.chassis.web.app import create_app
from tests.support.apps import running
from tests.support.metrics import value
from tests.support.servers import closed_port


async def test_a_service_whose_broker_is_away_stays_ready_and_reports_it(tmp_path: Path) -> None:
    settings = ServiceSettings(
        data_dir=tmp_path, broker_url=f"nats://127.0.0.1:{closed_port()}", service="demo"
    )
    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(name="demo", title="Demo")
    app = create_app(spec, settings, [], configure_logs=False)
    async with running(app) as client:
        runtime: Runtime[ServiceSettings, None] = app.state.runtime
        assert runtime.broker is not None
        for _ in range(250):  # its first check runs at start, in the background
            if runtime.broker.status != "connecting":
                break
            await asyncio.sleep(0.02)
        ready = await client.get("/health/ready")
        metrics = await client.get("/metrics")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok"}
    assert body["reported"]["broker"].startswith("error: "), body
    assert f"127.0.0.1:{settings.broker_url.rpartition(':')[2]}" in body["reported"]["broker"]
    assert value(metrics.text, "events_broker_up", {"service": "demo"}) == 0.0


async def test_a_service_without_a_broker_reports_none(tmp_path: Path) -> None:
    settings = ServiceSettings(data_dir=tmp_path, broker_url="", service="demo")
    spec: ServiceSpec[ServiceSettings, None] = ServiceSpec(name="demo", title="Demo")
    app = create_app(spec, settings, [], configure_logs=False)
    async with running(app) as client:
        ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert "reported" not in ready.json()


class Broker:
    """A bus as `BrokerWatch` sees it: a `ping` that answers, fails or hangs."""

    def __init__(self) -> None:
        self.behaviour = "answer"

    async def ping(self) -> None:
        if self.behaviour == "fail":
            raise BusUnavailable("not connected to NATS at a:4222")
        if self.behaviour == "hang":  # a paused broker: the connection is up, nothing answers
            await asyncio.sleep(60)


async def test_the_watch_keeps_the_latest_outcome_and_logs_each_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker, registry = Broker(), CollectorRegistry()
    watch = BrokerWatch(broker, BrokerMetrics("orders", registry), timeout=0.05)  # type: ignore[arg-type]
    assert watch.status == "connecting"

    def up() -> float | None:
        return registry.get_sample_value("events_broker_up", {"service": "orders"})

    with caplog.at_level(logging.INFO, logger="mercato.events"):
        assert await watch.check() == "ok" and up() == 1.0
        broker.behaviour = "hang"
        started = time.monotonic()
        assert await watch.check() == "timeout" and up() == 0.0
        assert time.monotonic() - started < 1.0  # bounded by its timeout
        broker.behaviour = "fail"
        assert await watch.check() == "error: not connected to NATS at a:4222"
        broker.behaviour = "answer"
        assert await watch.check() == "ok" and up() == 1.0
    changes = [record.getMessage() for record in caplog.records]
    assert changes == [
        "the broker's check: timeout (was ok)",
        "the broker's check: ok (was error: not connected to NATS at a:4222)",
    ]
