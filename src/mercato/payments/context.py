"""The payments service's context: its payment provider, opened once at start."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from mercato.chassis.data.database import Database
from mercato.chassis.runtime import Runtime
from mercato.payments.provider import PaymentProvider, ProviderClient
from mercato.payments.settings import PaymentsSettings
from mercato.payments.simulated import SimulatedProvider

__all__ = ["PaymentsContext", "PaymentsRuntime", "ProviderFactory", "context_with"]

ProviderFactory = Callable[[Database], PaymentProvider]


@dataclass(frozen=True, slots=True)
class PaymentsContext:
    """What payments' routes and tasks share: the provider, bounded by its deadline."""

    provider: ProviderClient


PaymentsRuntime = Runtime[PaymentsSettings, PaymentsContext]


def context_with(
    provider: ProviderFactory = SimulatedProvider,
) -> Callable[[PaymentsRuntime], AbstractAsyncContextManager[PaymentsContext]]:
    """The spec's `context`: the provider `provider` makes, behind its deadline.

    The simulated provider keeps its records in the service's database; a test
    gives a provider of its own.
    """

    @asynccontextmanager
    async def open_context(runtime: PaymentsRuntime) -> AsyncIterator[PaymentsContext]:
        timeout = runtime.settings.provider_timeout_seconds
        yield PaymentsContext(ProviderClient(provider(runtime.database), timeout=timeout))

    return open_context
