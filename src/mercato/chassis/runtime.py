"""The resources of one service process, opened at start and closed at shutdown.

`Runtime` is the single wiring place of a service: its settings, database, event bus,
outbox and relay, idempotent consumer, token verifier (with the revocation list fed
by `auth.token_revoked` events), the inter-service HTTP client, the service's own
context and its background tasks, its tracing (when the OTEL_* variables ask for it,
`chassis.telemetry.tracing`) and the metrics of each in one registry
(`metrics.registry`), with a sampler of the gauges no code path updates (the outbox's
backlog, the consumer's lag) and a check of the broker (`broker`, shown in health and
metrics but never part of readiness: no request needs the broker) every
`SAMPLE_SECONDS`. Routes reach it as
`request.app.state.runtime`, or better through the dependencies of
`mercato.chassis.web.dependencies` (the context, the outbox, the caller).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession

from mercato.chassis.background import BackgroundTask, BackgroundTasks
from mercato.chassis.client.service_client import ServiceClient
from mercato.chassis.client.service_tokens import ServiceTokenProvider
from mercato.chassis.config import ServiceSettings, SettingsError
from mercato.chassis.data.database import Database
from mercato.chassis.data.migrations import upgrade
from mercato.chassis.events import (
    BusError,
    Event,
    EventBus,
    EventTables,
    IdempotentConsumer,
    Outbox,
    OutboxRelay,
    connect_bus,
)
from mercato.chassis.events.broker_watch import BrokerWatch
from mercato.chassis.events.permissions import TOKEN_REVOKED
from mercato.chassis.events.sampling import consumer_lag, outbox_backlog
from mercato.chassis.events.transports import messaging_system
from mercato.chassis.security.client_addresses import ClientAddresses
from mercato.chassis.security.tokens import JwksKeySource, KeySource, RevocationList, TokenVerifier
from mercato.chassis.telemetry.client_metrics import ClientMetrics
from mercato.chassis.telemetry.event_metrics import BrokerMetrics, ConsumerMetrics, OutboxMetrics
from mercato.chassis.telemetry.event_spans import EventSpans, handling
from mercato.chassis.telemetry.http_metrics import HttpMetrics
from mercato.chassis.telemetry.pool_metrics import PoolMetrics
from mercato.chassis.telemetry.statement_spans import StatementSpans
from mercato.chassis.telemetry.task_metrics import TaskMetrics
from mercato.chassis.telemetry.tracing import Tracing, TracingError
from mercato.chassis.web.health import Check

__all__ = ["SAMPLE_SECONDS", "TOKEN_REVOKED", "Handler", "Runtime", "ServiceSpec"]

log = logging.getLogger("mercato.runtime")
Handler = Callable[[AsyncSession, Event], Awaitable[None]]
S = TypeVar("S", bound=ServiceSettings)
C = TypeVar("C")
SAMPLE_SECONDS = 5.0


@dataclass(frozen=True)
class ServiceSpec(Generic[S, C]):
    """What a service declares; the chassis does the rest.

    `S` is the service's settings class and `C` its context: what its routes, tasks
    and domain functions share in a process (clients, the saga runner, a provider),
    built once at start by `context`, an async context manager whose exit closes it
    at shutdown. `on_start` are one-off steps after it (loading demo data); `tasks`
    its background tasks (`chassis.background`). A spec with `event_tables` has an
    outbox (`Runtime.outbox`).
    """

    name: str
    title: str
    description: str = ""
    metadata: MetaData | None = None
    event_tables: EventTables | None = None
    migrations: Path | None = None
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    # Handle a fetch of events in one transaction (`IdempotentConsumer`, `batches`):
    # only for handlers that do nothing outside the transaction they are given.
    handles_in_batches: bool = False
    context: Callable[[Runtime[S, C]], AbstractAsyncContextManager[C]] | None = None
    on_start: Sequence[Callable[[Runtime[S, C]], Awaitable[None]]] = ()
    tasks: Sequence[BackgroundTask[Runtime[S, C]]] = ()
    uses_database: bool = True
    uses_bus: bool = True
    key_source: Callable[[Runtime[S, C]], KeySource] | None = None
    extra_audiences: Sequence[str] = ()
    documented: bool = True  # serves its OpenAPI document and Swagger UI
    # Routes whose bodies are files (`METHOD /path`, `*` for a segment), bounded by
    # `max_upload_bytes` instead of `max_body_bytes` (`chassis.web.uploads`).
    upload_routes: Sequence[str] = ()


class Runtime(Generic[S, C]):
    """Per-process resources of one service, typed by its settings and its context."""

    def __init__(self, spec: ServiceSpec[S, C], settings: S) -> None:
        self.spec = spec
        self.settings = settings
        self.metrics = HttpMetrics(spec.name)  # its registry holds every metric of the process
        registry = self.metrics.registry
        try:
            self.tracing = Tracing.from_env(spec.name, settings.instance)  # None: off
        except TracingError as exc:
            raise SettingsError(str(exc)) from None
        self.db: Database | None = None
        if spec.uses_database:
            pool = PoolMetrics(spec.name, registry)
            self.db = Database(
                settings.sqlalchemy_url,
                pool_size=settings.database_pool_size,
                pool_wait=pool.waited,
            )
            pool.watch(self.db.pool_usage)
        with_bus = spec.uses_bus and bool(settings.broker_url)
        with_events = self.db is not None and spec.event_tables is not None
        self.outbox_metrics = OutboxMetrics(spec.name, registry) if with_events else None
        self.consumer_metrics = (
            ConsumerMetrics(spec.name, registry)
            if with_bus and with_events and spec.handlers
            else None
        )
        if self.tracing is not None and self.db is not None and settings.trace_statements:
            self.db.reader.statements = StatementSpans(self.tracing, self.db.engine).watch()
        self.bus: EventBus | None = (
            connect_bus(
                settings.broker_url,
                service=spec.name,
                namespace=settings.bus_namespace,
                ack_wait=settings.event_ack_wait_seconds,
                replicas=settings.event_replicas,
                metrics=self.consumer_metrics,
            )
            if with_bus
            else None
        )
        self.event_spans = (
            EventSpans(self.tracing, messaging_system(settings.broker_url))
            if self.tracing is not None
            else None
        )
        self._outbox: Outbox | None = (
            Outbox(spec.event_tables, source=spec.name) if spec.event_tables else None
        )
        self.revocations = RevocationList()
        self.addresses = ClientAddresses(settings.trusted_proxies)
        # JWKS and service-token fetches go through it too, so they share its TLS.
        self.http = ServiceClient(
            token_provider=self._service_token,
            ssl=settings.tls_client_context(),
            metrics=ClientMetrics(spec.name, registry),
            tracing=self.tracing,
        )
        self.tokens = ServiceTokenProvider(
            self.http,
            auth_url=settings.auth_url,
            client_id=spec.name,
            client_secret=settings.client_secret,
        )
        keys = (
            spec.key_source(self)
            if spec.key_source
            else JwksKeySource(f"{settings.auth_url}/.well-known/jwks.json", self._fetch)
        )
        self.verifier = TokenVerifier(
            keys,
            issuer=settings.jwt_issuer,
            audiences=[settings.jwt_audience, spec.name, *spec.extra_audiences],
            revocations=self.revocations,
        )
        task_metrics = TaskMetrics(spec.name, registry)
        self.tasks = BackgroundTasks(self, spec.tasks, task_metrics)
        # First round after an interval: a query beside the start's own would only open
        # a second pooled connection.
        sampler: BackgroundTask[Runtime[S, C]] = BackgroundTask(
            "metrics-sampler",
            Runtime.sample_metrics,
            interval=lambda _: SAMPLE_SECONDS,
            at_start=False,
        )
        # The broker is watched beside them: shown in health and metrics, never in readiness.
        self.broker = (
            BrokerWatch(self.bus, BrokerMetrics(spec.name, registry)) if self.bus else None
        )
        watch: BackgroundTask[Runtime[S, C]] = BackgroundTask(
            "broker-watch", Runtime.watch_broker, interval=lambda _: SAMPLE_SECONDS
        )
        sampled = self.outbox_metrics is not None or self.consumer_metrics is not None
        samplers = [sampler] if sampled else []
        self._sampler = BackgroundTasks(
            self, samplers + ([watch] if self.broker else []), task_metrics
        )
        self._context: C | None = None
        self._started = False
        self._closing = contextlib.AsyncExitStack()
        self._relay: OutboxRelay | None = None
        self._consumer: IdempotentConsumer | None = None
        self._connecting: list[asyncio.Task[None]] = []
        self._subscriptions: list[Any] = []
        self.bus_connected = asyncio.Event()

    @property
    def database(self) -> Database:
        """The service's database (for services that have one)."""
        if self.db is None:
            raise RuntimeError(f"{self.spec.name} has no database")
        return self.db

    @property
    def outbox(self) -> Outbox:
        """The service's outbox (for services whose spec has event tables)."""
        if self._outbox is None:
            raise RuntimeError(f"{self.spec.name} declares no event tables")
        return self._outbox

    @property
    def context(self) -> C:
        """The context `ServiceSpec.context` built at start (None for a service without)."""
        if not self._started:
            raise RuntimeError(f"{self.spec.name} has not started")
        return cast(C, self._context)

    async def _service_token(self, audience: str) -> str:
        return await self.tokens(audience)

    async def _fetch(self, url: str) -> bytes:
        response = await self.http.get(url, target="auth", auth=False, timeout=3.0)
        response.raise_for_status()
        return response.body

    def checks(self) -> dict[str, Check]:
        """Readiness checks, what a request needs: the database (the broker is not one)."""
        checks: dict[str, Check] = {}
        if self.db is not None:
            checks["database"] = self.db.ping
        return checks

    def reported(self) -> dict[str, str]:
        """What health shows beside the checks without deciding readiness: the broker."""
        return {"broker": self.broker.status} if self.broker is not None else {}

    async def watch_broker(self) -> None:
        """Check the broker once (`chassis.events.broker_watch`)."""
        if self.broker is not None:
            await self.broker.check()

    async def start(self) -> None:
        """Open everything, build the context, start the background tasks.

        The broker connects in the background if it is not up yet.
        """
        await self.http.start()
        if self.db is not None and self.spec.migrations and self.settings.run_migrations:
            await upgrade(self.db, self.spec.migrations, self.spec.name)
        if self.db is not None and self.spec.event_tables is not None and self.bus is not None:
            self._relay = OutboxRelay(
                self.db,
                self.spec.event_tables,
                self.bus,
                metrics=self.outbox_metrics,
                spans=self.event_spans,
            )
            await self._relay.start()
        if self.bus is not None:
            self._connecting.append(asyncio.create_task(self._connect_bus(), name="bus-connect"))
        if self.spec.context is not None:
            self._context = await self._closing.enter_async_context(self.spec.context(self))
        self._started = True
        for step in self.spec.on_start:
            await step(self)
        self.tasks.start()
        self._sampler.start()

    async def _connect_bus(self) -> None:
        assert self.bus is not None
        delay = 0.2
        while True:
            try:
                await self.bus.connect()
                break
            except Exception as exc:
                log.warning("cannot use the broker yet (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        ttl = timedelta(hours=1)
        self._subscriptions.append(
            await self.bus.tail([TOKEN_REVOKED], self._on_revoked, since=ttl)
        )
        if self.spec.handlers and self.db is not None and self.spec.event_tables is not None:
            self._consumer = IdempotentConsumer(
                self.db,
                self.spec.event_tables,
                self.spec.name,
                self.spec.handlers,
                metrics=self.consumer_metrics,
                spans=self.event_spans,
                batches=self.spec.handles_in_batches,
            )
            await self._consumer.start(self.bus)
        self.bus_connected.set()
        log.info("connected to the broker")

    async def sample_metrics(self) -> None:
        """Sample the outbox's backlog and the consumer's lag into their gauges."""
        tables = self.spec.event_tables
        if self.outbox_metrics is not None and self.db is not None and tables is not None:
            self.outbox_metrics.backlog(*await outbox_backlog(self.db, tables))
        bus = self.bus if self._consumer is not None else None  # once it consumes
        if self.consumer_metrics is not None and bus is not None:
            try:
                lag: int | None = await consumer_lag(bus, self.spec.name)
            except BusError as exc:  # the broker is away: its lag is unknown for now
                log.debug("no lag of %s: %s", self.spec.name, exc)
                lag = None
            self.consumer_metrics.lag(self.spec.name, lag)

    async def _on_revoked(self, event: Event) -> None:
        with handling(self.event_spans, event, "revocations"):
            self.revocations.revoke(str(event.data["jti"]), float(event.data["expires_at"]))

    async def stop(self) -> None:
        """Stop taking work, finish what is in flight, flush the outbox, close."""
        await self._sampler.stop()
        await self.tasks.stop()
        for task in self._connecting:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for subscription in self._subscriptions:
            await subscription.stop()
        if self._consumer is not None:
            await self._consumer.stop()
        await self._closing.aclose()  # the context's own shutdown
        self._started = False
        if self._relay is not None:
            await self._relay.stop()
        if self.bus is not None:
            await self.bus.close()
        await self.http.close()
        if self.db is not None:
            await self.db.dispose()
        if self.tracing is not None:
            await self.tracing.shutdown()  # the spans of everything above, sent
