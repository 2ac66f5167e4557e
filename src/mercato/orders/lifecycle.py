"""The orders service's parts built at start: clients, the saga and its runner."""

from __future__ import annotations

from dataclasses import dataclass

from mercato.chassis.runtime import Runtime
from mercato.orders.clients import Catalog, Payments
from mercato.orders.metrics import SagaMetrics
from mercato.orders.runner import SagaRunner
from mercato.orders.saga import Saga
from mercato.orders.settings import OrdersSettings

__all__ = ["METRICS_KEY", "STATE_KEY", "Components", "components_of", "start", "stop"]

STATE_KEY = "orders"
METRICS_KEY = "orders.metrics"


@dataclass(frozen=True, slots=True)
class Components:
    """What the routes use besides the session: dependencies and the saga runner."""

    settings: OrdersSettings
    catalog: Catalog
    payments: Payments
    saga: Saga
    runner: SagaRunner


def settings_of(runtime: Runtime) -> OrdersSettings:
    """The runtime's settings, which must be the orders service's."""
    settings = runtime.settings
    if not isinstance(settings, OrdersSettings):
        raise RuntimeError("the orders service runs with settings that are not OrdersSettings")
    return settings


def components_of(runtime: Runtime) -> Components:
    """The parts `start` built (the app must be running)."""
    found = runtime.state.get(STATE_KEY)
    if not isinstance(found, Components):
        raise RuntimeError("the orders service has not started")
    return found


async def start(runtime: Runtime) -> None:
    """Build the clients, the saga and its runner, and start the sweeper."""
    settings = settings_of(runtime)
    if runtime.outbox is None:
        raise RuntimeError("the orders service runs without an outbox")
    catalog = Catalog(runtime.http, settings)
    payments = Payments(runtime.http, settings)
    metrics = runtime.state.get(METRICS_KEY)
    if not isinstance(metrics, SagaMetrics):  # an app built without `create_app`
        metrics = SagaMetrics()
    saga = Saga(
        database=runtime.database,
        outbox=runtime.outbox,
        catalog=catalog,
        payments=payments,
        settings=settings,
        metrics=metrics,
    )
    runner = SagaRunner(saga=saga, database=runtime.database, settings=settings)
    runtime.state[STATE_KEY] = Components(settings, catalog, payments, saga, runner)
    runner.start()


async def stop(runtime: Runtime) -> None:
    """Stop the sweeper and let sagas in flight finish (within the grace period)."""
    found = runtime.state.pop(STATE_KEY, None)
    if isinstance(found, Components):
        await found.runner.stop()
