"""The whole system in one place: services, ports, start order and environment.

`SERVICES` lists every service with its port offset from the gateway's port P, its
start stage and whether it uses the broker; adding a service is one line there (its
package `mercato.<name>` gives `app.create_app`, `app.SPEC` and
`settings.load_settings`). The launcher is the composition root, so it alone may
import every service; it does so only when `Service.wiring()` is called, so that a
process imports only the service it runs. Start order: the embedded NATS, then
stage 1 (auth), stage 2 (users, catalog, payments, logs, shipping, notifications),
stage 3 (orders, which calls catalog, payments and shipping), stage 4 (web, the
storefront, which calls them all), and the gateway last; stopping runs in reverse.
`Layout` is one concrete deployment on a laptop (base port, data directory, replicas,
broker, client secrets, TLS) and computes each process's environment:

    port(service, i)  = P + offset + (i - 1)        # replica i, counted from 1
    operator port     = P + 100 (+ i - 1)           # the gateway's metrics, health, docs
    broker            = nats://<service>:<password>@127.0.0.1:(P + 242)
                        # in MERCATO_<SERVICE>_BROKER_URL, unless MERCATO_BROKER_URL is set
    Prometheus        = P + 290                     # with --observe (`launcher.observe`)
    mail sink         = P + 225                     # unless an SMTP URL is given
                        # (`launcher.mail_sink`; notifications mails through it)
    bus namespace     = MERCATO                     # unless MERCATO_BUS_NAMESPACE is set
    event replicas    = 1 on the embedded NATS      # MERCATO_EVENT_REPLICAS: a cluster's
    with TLS          : every URL https://, each process given its certificate from
                        <data_dir>/tls and the CA (mutual TLS between services)

A new service is then one line such as

    Service("orders", 140, stage=3, broker=True, env=_orders_env),

and the gateway's upstreams, the client secrets, the broker users and the stop order
follow from it. `consumes` names the event types of the service's handlers (its
`ServiceSpec.handlers`, which a unit test compares): with the types the contracts
say it publishes, they make its broker permissions (`bus_roles`).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from mercato.chassis.config import ServiceSettings
from mercato.chassis.events.names import DEAD_LETTERS, DEFAULT_NAMESPACE, OPERATOR
from mercato.chassis.events.permissions import ALL_TYPES, BusRole, role
from mercato.launcher.certificates import TLS_DIR, TlsFiles

if TYPE_CHECKING:
    from mercato.chassis.runtime import ServiceSpec

__all__ = [
    "BROKER_OFFSET",
    "HOST",
    "MAIL_SINK_OFFSET",
    "MAX_REPLICAS",
    "OPERATOR_OFFSET",
    "PROMETHEUS_OFFSET",
    "SERVICES",
    "Instance",
    "Layout",
    "Service",
    "Wiring",
    "broker_users",
    "bus_roles",
    "service",
    "stages",
]

HOST = "127.0.0.1"
BROKER_OFFSET = 242
OPERATOR_OFFSET = 100  # the gateway's operator port: P + 100
PROMETHEUS_OFFSET = 290  # `mercato up --observe`'s Prometheus: P + 290 (its own 9090, shifted)
MAIL_SINK_OFFSET = 225  # the development mail sink, when no SMTP server is given
MAX_REPLICAS = 9  # service offsets are 10 apart
SIMULATED_CARRIER_SECONDS = 20  # `mercato up`: each shipment moves on after this long

S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True)
class Wiring(Generic[S]):
    """How to build one service: its settings loader, app factory and spec."""

    load_settings: Callable[..., S]
    create_app: Callable[[S], Any]
    spec: ServiceSpec[S, Any]


def _wiring(name: str) -> Wiring[Any]:
    """Import service `name`'s package and take its settings loader, app factory and spec.

    Imported by name rather than by seven `from mercato.<name> import app, settings`
    functions: the style guide's "no plugins loaded by string" is about code found at
    run time, whereas this is the composition root importing one of its own packages,
    named in its own `SERVICES` table (`Service.wiring`), and only that one, so that a
    process imports just the service it runs. A package without the three names fails
    here, at start, and in the unit test that wires every service.
    """
    app = importlib.import_module(f"mercato.{name}.app")
    settings = importlib.import_module(f"mercato.{name}.settings")
    return Wiring(settings.load_settings, app.create_app, app.SPEC)


def _auth_env(layout: Layout) -> dict[str, str]:
    clients = ",".join(f"{name}:{secret}" for name, secret in sorted(layout.secrets.items()))
    return {"MERCATO_AUTH_CLIENTS": clients}


def _catalog_env(layout: Layout) -> dict[str, str]:
    return {"MERCATO_CATALOG_DEMO_DATA": "true" if layout.demo else "false"}


def _logs_env(layout: Layout) -> dict[str, str]:
    # Its dead-letter API (the operations console's) connects as a user of its own, with
    # only the dead letters' rights; on another broker, with the URL given for all.
    return {"MERCATO_LOGS_DEAD_LETTERS_BROKER_URL": layout.broker_url_for(DEAD_LETTERS)}


def _shipping_env(layout: Layout) -> dict[str, str]:
    return {"MERCATO_SHIPPING_SIMULATED_CARRIER_SECONDS": f"{layout.carrier_seconds:g}"}


def _orders_env(layout: Layout) -> dict[str, str]:
    # Every instance, so that the saga balances over the replicas and fails over.
    env = {
        "MERCATO_ORDERS_CATALOG_URL": layout.base_urls(service("catalog")),
        "MERCATO_ORDERS_PAYMENTS_URL": layout.base_urls(service("payments")),
    }
    # Shipping's quotes price checkout's shipping; without the service none is charged.
    if any(s.name == "shipping" for s in SERVICES):
        env["MERCATO_ORDERS_SHIPPING_URL"] = layout.base_urls(service("shipping"))
    return env


def _web_env(layout: Layout) -> dict[str, str]:
    # Every instance of each service the storefront calls, as the orders' saga has them.
    env = {
        f"MERCATO_WEB_{name.upper()}_URL": layout.base_urls(service(name))
        for name in ("users", "catalog", "orders", "payments", "logs", "shipping", "notifications")
    }
    env["MERCATO_WEB_AUTH_API_URL"] = layout.base_urls(service("auth"))
    # What the operations console watches besides them: the gateway (its operator port,
    # where its metrics are) and the storefront's own instances.
    gateways = layout.instances(service("gateway"))
    env["MERCATO_WEB_GATEWAY_OPERATOR_URL"] = ",".join(
        f"{inst.scheme}://{HOST}:{layout.operator_port(inst)}" for inst in gateways
    )
    env["MERCATO_WEB_WEB_URL"] = layout.base_urls(service("web"))
    return env


def _notifications_env(layout: Layout) -> dict[str, str]:
    # The mails link to this system's shop; under the shared name, so that a
    # MERCATO_NOTIFICATIONS_SHOP_URL of the developer's still wins.
    env = {"MERCATO_SHOP_URL": f"{layout.scheme}://{HOST}:{layout.port}"}
    # Asked for the address of a user whose `user.registered` it never saw.
    env["MERCATO_NOTIFICATIONS_USERS_URL"] = layout.base_urls(service("users"))
    # Without an SMTP server of the developer's, the mails go to the launcher's sink.
    if layout.mail_sink:
        env["MERCATO_NOTIFICATIONS_SMTP_URL"] = f"smtp://{HOST}:{layout.mail_sink_port}"
    return env


def _gateway_env(layout: Layout) -> dict[str, str]:
    return {"MERCATO_GATEWAY_UPSTREAMS": layout.upstreams()}


def _no_env(layout: Layout) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Service:
    """One service of the system, as the launcher runs it."""

    name: str
    offset: int
    stage: int
    broker: bool
    env: Callable[[Layout], dict[str, str]] = field(default=_no_env, repr=False, compare=False)
    consumes: tuple[str, ...] = ()

    def wiring(self) -> Wiring[Any]:
        """How to build this service (importing its package: only the one a process runs)."""
        return _wiring(self.name)

    @property
    def is_gateway(self) -> bool:
        """Whether this is the gateway (the public entry point on P, started last)."""
        return self.name == "gateway"


# fmt: off
SERVICES: tuple[Service, ...] = (
    Service("auth",    110, stage=1, broker=True, env=_auth_env),
    Service("users",   120, stage=2, broker=True, consumes=("user.registered",)),
    Service("catalog", 130, stage=2, broker=True, env=_catalog_env),
    Service("payments", 150, stage=2, broker=True),
    Service("logs",    160, stage=2, broker=True, env=_logs_env, consumes=(ALL_TYPES,)),
    Service("shipping", 180, stage=2, broker=True, env=_shipping_env,
            consumes=("order.confirmed", "order.cancelled", "order.returned")),
    Service("notifications", 190, stage=2, broker=True, env=_notifications_env, consumes=(
        "order.confirmed", "payment.failed", "payment.refunded", "shipment.delivered",
        "shipment.shipped", "user.registered",
    )),
    Service("orders",  140, stage=3, broker=True, env=_orders_env,
            consumes=("shipment.created", "shipment.shipped", "shipment.delivered",
                      "return.received")),
    Service("web",     170, stage=4, broker=False, env=_web_env),
    Service("gateway",   0, stage=9, broker=True, env=_gateway_env),
)
# fmt: on


def service(name: str) -> Service:
    """The service called `name`; KeyError if there is none."""
    for candidate in SERVICES:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def bus_roles() -> list[BusRole]:
    """What every service that uses the broker does on it (for its broker permissions)."""
    return [role(svc.name, svc.consumes) for svc in SERVICES if svc.broker]


def broker_users() -> list[str]:
    """The users of the embedded broker: every service that uses it, the operator, and
    the logs service's dead-letter API."""
    return [svc.name for svc in SERVICES if svc.broker] + [OPERATOR, DEAD_LETTERS]


def stages() -> list[list[Service]]:
    """Services grouped by start stage, in start order."""
    numbers = sorted({s.stage for s in SERVICES})
    return [[s for s in SERVICES if s.stage == n] for n in numbers]


@dataclass(frozen=True)
class Instance:
    """One process of a service: replica `index` (from 1) on `port`."""

    service: Service
    index: int
    port: int
    scheme: str = "http"

    @property
    def name(self) -> str:
        """The instance id, e.g. `catalog-2`."""
        return f"{self.service.name}-{self.index}"

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"{self.scheme}://{HOST}:{self.port}"


@dataclass(frozen=True)
class Layout:
    """One deployment of the topology on this machine."""

    port: int = 8000
    data_dir: Path = Path(".mercato")
    replicas: Mapping[str, int] = field(default_factory=dict)
    external_broker: str = ""
    bus_namespace: str = DEFAULT_NAMESPACE
    demo: bool = True
    secrets: Mapping[str, str] = field(default_factory=dict)
    tls: bool = False
    broker_passwords: Mapping[str, str] = field(default_factory=dict, repr=False)
    observe: bool = False  # also run a Prometheus scraping every process
    mail_server: str = field(default="", repr=False)  # an SMTP URL given: no mail sink
    carrier_seconds: float = SIMULATED_CARRIER_SECONDS  # a demo order reaches delivered; 0: off

    @property
    def mail_sink(self) -> bool:
        """Whether the launcher runs the development mail sink (no SMTP server given)."""
        return not self.mail_server

    @property
    def mail_sink_port(self) -> int:
        """Where the development mail sink listens."""
        return self.port + MAIL_SINK_OFFSET

    @property
    def prometheus_port(self) -> int:
        """Where the Prometheus of `--observe` listens."""
        return self.port + PROMETHEUS_OFFSET

    @property
    def tls_files(self) -> TlsFiles | None:
        """Where the development CA and certificates are, when the system runs TLS."""
        return TlsFiles(self.data_dir / TLS_DIR) if self.tls else None

    @property
    def scheme(self) -> str:
        """`https` when the system runs TLS, else `http`."""
        return "https" if self.tls else "http"

    @property
    def broker_port(self) -> int:
        """The embedded NATS port."""
        return self.port + BROKER_OFFSET

    @property
    def embedded_broker(self) -> bool:
        """Whether the launcher runs the broker itself."""
        return not self.external_broker

    @property
    def broker_url(self) -> str:
        """The broker every service connects to."""
        return self.external_broker or f"nats://{HOST}:{self.broker_port}"

    def broker_url_for(self, user: str) -> str:
        """The broker URL of `user`: with its credentials on the embedded NATS."""
        password = self.broker_passwords.get(user)
        if self.external_broker or password is None:
            return self.broker_url
        return f"nats://{user}:{password}@{HOST}:{self.broker_port}"

    def count(self, name: str) -> int:
        """How many instances of service `name` run."""
        return self.replicas.get(name, 1)

    def instances(self, svc: Service) -> list[Instance]:
        """The instances of `svc`, the first (which runs migrations) first."""
        base = self.port + svc.offset
        count = self.count(svc.name)
        return [Instance(svc, i, base + i - 1, self.scheme) for i in range(1, count + 1)]

    def base_urls(self, svc: Service) -> str:
        """The base URLs of every instance of `svc`, comma-separated (as services read them)."""
        return ",".join(inst.url for inst in self.instances(svc))

    def all_instances(self) -> list[Instance]:
        """Every service instance, in declaration order."""
        return [inst for svc in SERVICES for inst in self.instances(svc)]

    @staticmethod
    def operator_port(instance: Instance) -> int:
        """The operator port of a gateway instance (metrics, detailed health, docs)."""
        return instance.port + OPERATOR_OFFSET

    def ports(self) -> dict[int, str]:
        """Every port this layout listens on, with what listens there."""
        ports = {inst.port: inst.name for inst in self.all_instances()}
        for inst in self.instances(service("gateway")):
            ports[self.operator_port(inst)] = f"{inst.name} (operator)"
        if self.embedded_broker:
            ports[self.broker_port] = "nats"
        if self.mail_sink:
            ports[self.mail_sink_port] = "mail"
        if self.observe:
            ports[self.prometheus_port] = "prometheus"
        return ports

    def upstreams(self) -> str:
        """The gateway's upstream list: `name=url|url,...` for every backend service."""
        return ",".join(
            f"{svc.name}=" + "|".join(inst.url for inst in self.instances(svc))
            for svc in SERVICES
            if not svc.is_gateway
        )

    def env(self, instance: Instance) -> dict[str, str]:
        """The environment variables that instance's process gets (on top of ours)."""
        svc = instance.service
        prefix = f"MERCATO_{svc.name.upper()}_"
        env = {
            "PYTHONUNBUFFERED": "1",
            "MERCATO_DATA_DIR": str(self.data_dir),
            "MERCATO_AUTH_URL": self.instances(service("auth"))[0].url,
            prefix + "PORT": str(instance.port),
            prefix + "INSTANCE": instance.name,
        }
        if svc.broker:
            if self.embedded_broker and svc.name in self.broker_passwords:
                env[prefix + "BROKER_URL"] = self.broker_url_for(svc.name)  # its own user
            else:
                env["MERCATO_BROKER_URL"] = self.broker_url
            if self.embedded_broker:  # one node keeps one copy, whatever the shell says
                env[prefix + "EVENT_REPLICAS"] = "1"
            env["MERCATO_BUS_NAMESPACE"] = self.bus_namespace
        if svc.is_gateway:
            env[prefix + "OPERATOR_PORT"] = str(self.operator_port(instance))
        if svc.name in self.secrets:
            env[prefix + "CLIENT_SECRET"] = self.secrets[svc.name]
        files = self.tls_files
        if files is not None:
            env[prefix + "TLS_CERTFILE"] = str(files.certificate(svc.name))
            env[prefix + "TLS_KEYFILE"] = str(files.key(svc.name))
            env[prefix + "TLS_CA_FILE"] = str(files.ca)
        env.update(svc.env(self))
        return env
