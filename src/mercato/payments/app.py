"""Wiring of the payments service: its spec (context, reconciler) and the app factory."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from fastapi import FastAPI

from mercato.chassis.runtime import ServiceSpec
from mercato.chassis.web import app as chassis_app
from mercato.payments.context import PaymentsContext, ProviderFactory, context_with
from mercato.payments.handlers import HANDLERS
from mercato.payments.models import EVENTS, PaymentsBase
from mercato.payments.reconciler import RECONCILER
from mercato.payments.routes import router
from mercato.payments.settings import PaymentsSettings, load_settings

__all__ = ["SPEC", "create_app"]

SPEC: ServiceSpec[PaymentsSettings, PaymentsContext] = ServiceSpec(
    name="payments",
    title="Mercato payments",
    description="Payment methods (brand and last4 only), charges and refunds.",
    metadata=PaymentsBase.metadata,
    event_tables=EVENTS,
    migrations=Path(__file__).parent / "migrations",
    handlers=HANDLERS,
    context=context_with(),
    tasks=(RECONCILER,),
)


def create_app(
    settings: PaymentsSettings | None = None, *, provider: ProviderFactory | None = None
) -> FastAPI:
    """Build the payments service's ASGI app (with the simulated provider by default).

    `provider` makes the provider from the service's database (a test's own).
    """
    spec = SPEC if provider is None else replace(SPEC, context=context_with(provider))
    return chassis_app.create_app(spec, settings or load_settings(), [router])
