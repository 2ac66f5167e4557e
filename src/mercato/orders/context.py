"""The orders service's context: its clients, the sagas and their runners.

The clients are the catalog's, payments' and shipping's (`shipping_quotes`).

Built once at start (the spec's `context`); at shutdown the runner lets the sagas in
flight finish, within the grace period, before the outbox and database close.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from mercato.chassis.runtime import Runtime
from mercato.orders.clients import Catalog, Payments
from mercato.orders.metrics import saga_metrics
from mercato.orders.return_runner import ReturnRunner, return_metrics
from mercato.orders.return_saga import ReturnSaga
from mercato.orders.runner import SagaRunner
from mercato.orders.saga import Saga
from mercato.orders.settings import OrdersSettings
from mercato.orders.shipping_quotes import Shipping

__all__ = ["OrdersContext", "OrdersRuntime", "open_context", "sweep", "sweep_returns"]


@dataclass(frozen=True, slots=True)
class OrdersContext:
    """What the routes use besides the session: the clients, the saga and its runner."""

    settings: OrdersSettings
    catalog: Catalog
    payments: Payments
    saga: Saga
    runner: SagaRunner
    returns: ReturnRunner
    shipping: Shipping


OrdersRuntime = Runtime[OrdersSettings, OrdersContext]


@asynccontextmanager
async def open_context(runtime: OrdersRuntime) -> AsyncIterator[OrdersContext]:
    """Build the clients, the saga and its runner; wait for sagas in flight at the end."""
    settings = runtime.settings
    catalog = Catalog(runtime.http, settings)
    payments = Payments(runtime.http, settings)
    saga = Saga(
        database=runtime.database,
        outbox=runtime.outbox,
        catalog=catalog,
        payments=payments,
        settings=settings,
        metrics=saga_metrics(runtime.metrics.registry),
    )
    runner = SagaRunner(saga=saga, database=runtime.database, settings=settings)
    returns = ReturnRunner(
        saga=ReturnSaga(
            database=runtime.database,
            outbox=runtime.outbox,
            catalog=catalog,
            payments=payments,
            settings=settings,
            lease_seconds=settings.lease_seconds,
        ),
        database=runtime.database,
        settings=settings,
        metrics=return_metrics(runtime.metrics.registry),
    )
    try:
        shipping = Shipping(runtime.http, settings)
        yield OrdersContext(settings, catalog, payments, saga, runner, returns, shipping)
    finally:
        await runner.stop()


async def sweep(runtime: OrdersRuntime) -> None:
    """One round of the saga sweeper: drive on the orders whose saga stopped."""
    await runtime.context.runner.sweep()


async def sweep_returns(runtime: OrdersRuntime) -> None:
    """One round of the return sweeper: drive on the returns whose refund saga is due."""
    await runtime.context.returns.sweep()
