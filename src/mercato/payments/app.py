"""Wiring of the payments service: its spec, its provider and the app factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from mercato.chassis import app as chassis_app
from mercato.chassis.runtime import Runtime, ServiceSpec
from mercato.payments.handlers import HANDLERS
from mercato.payments.models import EVENTS, PaymentsBase
from mercato.payments.provider import PaymentProvider, ProviderClient
from mercato.payments.reconciler import Reconciler
from mercato.payments.routes import PROVIDER, router
from mercato.payments.settings import PaymentsSettings, load_settings
from mercato.payments.simulated import SimulatedProvider

__all__ = ["RECONCILER", "SPEC", "create_app"]

RECONCILER = "payments.reconciler"


async def _open_provider(runtime: Runtime) -> None:
    """Put the provider, bounded by its deadline, in the runtime's state; start reconciling."""
    settings = runtime.settings
    if not isinstance(settings, PaymentsSettings):
        raise RuntimeError("the payments service runs with settings that are not its own")
    if runtime.outbox is None:
        raise RuntimeError("the payments service runs without an outbox")
    provider: PaymentProvider = runtime.state.get("provider") or SimulatedProvider(runtime.database)
    client = ProviderClient(provider, timeout=settings.provider_timeout_seconds)
    runtime.state[PROVIDER] = client
    reconciler = Reconciler(
        database=runtime.database,
        provider=client,
        outbox=runtime.outbox,
        lease_seconds=settings.charge_lease_seconds,
        interval_seconds=settings.reconcile_interval_seconds,
    )
    runtime.state[RECONCILER] = reconciler
    reconciler.start()


async def _stop_reconciling(runtime: Runtime) -> None:
    """Stop the background reconciler."""
    reconciler = runtime.state.pop(RECONCILER, None)
    if isinstance(reconciler, Reconciler):
        await reconciler.stop()


SPEC = ServiceSpec(
    name="payments",
    title="Mercato payments",
    description="Payment methods (brand and last4 only), charges and refunds.",
    metadata=PaymentsBase.metadata,
    event_tables=EVENTS,
    migrations=Path(__file__).parent / "migrations",
    handlers=HANDLERS,
    on_startup=(_open_provider,),
    on_shutdown=(_stop_reconciling,),
)


def create_app(
    settings: PaymentsSettings | None = None, *, provider: PaymentProvider | None = None
) -> FastAPI:
    """Build the payments service's ASGI app (with the simulated provider by default)."""
    app = chassis_app.create_app(SPEC, settings or load_settings(), [router])
    if provider is not None:
        app.state.runtime.state["provider"] = provider
    return app
