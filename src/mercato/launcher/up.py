"""`mercato up`: the whole system on one machine, started in order, stopped cleanly.

1. refuse to start when a port is reserved or busy, or another `mercato up` uses the
   data directory (a lock file in `<data_dir>/run`); the data directory and what the
   launcher writes there are owner-only (`chassis.security.private_files`);
2. start the embedded NATS (unless `MERCATO_BROKER_URL` names an external broker) with
   a user and password per service and for the operator (`launcher.nats`), and
   every service process on hold (they import their code meanwhile), and wait for
   the broker's greeting;
3. release the services stage by stage, the services of a stage concurrently; of a
   replicated service, instance 1 first (it runs the migrations), then the others;
   each must answer `GET /health/ready` with 200 before the next stage goes;
4. with `--observe`, start Prometheus once the services are ready (`launcher.observe`;
   refused up front, in one line, when the machine has no `prometheus`);
5. print the URLs and the start time, then supervise until SIGINT or SIGTERM;
   with `--tls`, every process serves HTTPS with a certificate of the development CA
   in `<data_dir>/tls` (made at first start), services require a client certificate
   from that CA, and the probes of step 3 present the launcher's;
6. stop in reverse order (Prometheus, gateway, services, broker), SIGKILL after the
   grace period;
   a second Ctrl-C kills everything at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import ssl
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path

from mercato.chassis.events.names import DEFAULT_NAMESPACE
from mercato.chassis.security.private_files import private_directory, private_file
from mercato.chassis.security.tls import client_context
from mercato.launcher import nats, observe
from mercato.launcher.certificates import LAUNCHER, development_certificates
from mercato.launcher.console import Console, without_password
from mercato.launcher.credentials import BrokerUser, broker_users, client_secrets
from mercato.launcher.errors import LauncherError, StartupError
from mercato.launcher.ports import check_ports
from mercato.launcher.probe import http_ok, nats_ok
from mercato.launcher.supervisor import Child, ProcessSpec, Supervisor
from mercato.launcher.topology import HOST, SERVICES, Instance, Layout, service, stages
from mercato.launcher.topology import broker_users as broker_user_names

__all__ = ["GRACE_SECONDS", "STARTUP_TIMEOUT", "run_dir", "up"]

STARTUP_TIMEOUT = 60.0
GRACE_SECONDS = 15.0
BROKER_TIER = 0
DOUBLE_SIGNAL_SECONDS = 1.0


def run_dir(layout: Layout) -> Path:
    """Where pid files and the launcher's lock live."""
    return layout.data_dir / "run"


@contextlib.contextmanager
def _lock(directory: Path) -> Iterator[None]:
    private_directory(directory)
    path = private_file(directory / "mercato.lock")
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "?"
            raise LauncherError(
                f"another `mercato up` (pid {owner}) uses {directory.parent}"
            ) from None
        handle.truncate(0)
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield


def _probe_context(layout: Layout) -> ssl.SSLContext | None:
    """The probes' TLS: the development CA, and the launcher's own client certificate."""
    files = layout.tls_files
    if files is None:
        return None
    return client_context(files.ca, (files.certificate(LAUNCHER), files.key(LAUNCHER)))


def _instance_spec(
    layout: Layout, instance: Instance, base: Mapping[str, str], tls: ssl.SSLContext | None
) -> ProcessSpec:
    return ProcessSpec(
        name=instance.name,
        argv=[sys.executable, "-m", "mercato", "run", instance.service.name],
        env={**base, **layout.env(instance)},
        probe=partial(http_ok, HOST, instance.port, "/health/ready", tls=tls),
        tier=instance.service.stage,
        hold=True,
    )


async def _start_service(children: list[Child]) -> None:
    first, *others = children
    first.release()
    await first.wait_ready(STARTUP_TIMEOUT)
    for child in others:
        child.release()
    async with asyncio.TaskGroup() as group:
        for child in others:
            group.create_task(child.wait_ready(STARTUP_TIMEOUT))


async def _start(
    layout: Layout,
    supervisor: Supervisor,
    users: Mapping[str, BrokerUser],
    prometheus: ProcessSpec | None,
) -> None:
    base = dict(os.environ)
    broker: Child | None = None
    if layout.embedded_broker:
        private_directory(layout.data_dir / "nats")
        config = nats.write_config(layout, users)
        broker = supervisor.launch(
            ProcessSpec(
                name=nats.NAME,
                argv=nats.command(layout, config),
                env=base,
                probe=partial(nats_ok, HOST, layout.broker_port),
                tier=BROKER_TIER,
            )
        )
    # Every service process starts now, on hold: the imports (the slow part) run
    # while the broker starts; each is then released in the start order.
    held: dict[str, list[Child]] = {}
    tls = _probe_context(layout)
    for svc in SERVICES:
        specs = [_instance_spec(layout, inst, base, tls) for inst in layout.instances(svc)]
        held[svc.name] = [supervisor.launch(spec) for spec in specs]
    if broker is not None:
        await broker.wait_ready(STARTUP_TIMEOUT)
    for stage in stages():
        try:
            async with asyncio.TaskGroup() as group:
                for svc in stage:
                    group.create_task(_start_service(held[svc.name]))
        except* LauncherError as failures:
            raise _first(failures) from None
    if prometheus is not None:  # once every target answers: no failed first scrapes
        await supervisor.launch(prometheus).wait_ready(STARTUP_TIMEOUT)


def _first(group: BaseExceptionGroup[LauncherError]) -> LauncherError:
    error = group.exceptions[0]
    return _first(error) if isinstance(error, BaseExceptionGroup) else error


def _announce(layout: Layout, console: Console, seconds: float) -> None:
    gateway = f"{layout.scheme}://{HOST}:{layout.port}"
    observed = observe.describe(layout) if layout.observe else []
    width = max(len(name) for name in [*(s.name for s in SERVICES), *dict(observed)]) + 2
    console.say(f"ready in {seconds:.1f} s")
    console.say(f"  {'shop':<{width}}{gateway}/")
    console.say(f"  {'gateway':<{width}}{gateway}")
    console.say(f"  {'JWKS':<{width}}{gateway}/.well-known/jwks.json")
    operator = f"http://{HOST}:{layout.operator_port(layout.instances(service('gateway'))[0])}"
    console.say(f"  {'operator':<{width}}{operator}/metrics, {operator}/health")
    console.say(f"  {'events':<{width}}{operator}/asyncapi.json")
    for svc in SERVICES:
        if svc.is_gateway:
            continue
        first, *others = layout.instances(svc)
        more = f"  (replicas on {', '.join(str(i.port) for i in others)})" if others else ""
        docs = "" if svc.name == "web" else f"/api/{svc.name}/docs"  # pages, not an API
        console.say(f"  {svc.name:<{width}}{first.url}{docs}{more}")
    namespace = (
        f"  (namespace {layout.bus_namespace})" if layout.bus_namespace != DEFAULT_NAMESPACE else ""
    )
    console.say(f"  {'broker':<{width}}{without_password(layout.broker_url)}{namespace}")
    if layout.tls_files is not None:
        console.say(f"  {'TLS CA':<{width}}{layout.tls_files.ca} (curl --cacert, or trust it)")
    for what, where in observed:
        console.say(f"  {what:<{width}}{where}")
    console.say(f"data in {layout.data_dir}; press Ctrl-C to stop")


async def _up(
    layout: Layout,
    console: Console,
    grace: float,
    users: Mapping[str, BrokerUser],
    prometheus: ProcessSpec | None,
) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    supervisor = Supervisor(console, run_dir(layout))
    stop = asyncio.Event()

    first_signal: list[float] = []

    def _on_signal() -> None:
        # A second Ctrl-C kills at once; one within a second is the same press
        # reaching us twice (e.g. `timeout` signals both the process and its group).
        now = loop.time()
        if first_signal and now - first_signal[0] > DOUBLE_SIGNAL_SECONDS:
            console.say("second signal: killing every process")
            supervisor.kill()
        first_signal.append(now)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_signal)
    starting = asyncio.create_task(_start(layout, supervisor, users, prometheus))
    stopping = asyncio.create_task(stop.wait())
    failing = asyncio.create_task(supervisor.failure())
    try:
        await asyncio.wait({starting, stopping, failing}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # raises the start's error
            _announce(layout, console, loop.time() - began)
            await stopping
        else:
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, LauncherError):
                await starting
            if failing.done():
                raise StartupError(failing.result())
    finally:
        stopping.cancel()
        failing.cancel()
        console.say("stopping")
        await supervisor.stop(grace)
        console.say("stopped")


def up(layout: Layout, *, console: Console | None = None, grace: float = GRACE_SECONDS) -> int:
    """Run the whole system until SIGINT or SIGTERM; 0 after a clean stop."""
    binary = observe.prometheus_binary() if layout.observe else None
    check_ports(layout.ports())
    private_directory(layout.data_dir)  # also tightens one an older version made
    with _lock(run_dir(layout)):
        secrets = client_secrets(layout.data_dir, [s.name for s in SERVICES])
        users: dict[str, BrokerUser] = {}
        if layout.embedded_broker:  # an external broker has its own users
            users = broker_users(layout.data_dir, broker_user_names())
        passwords = {name: user.password for name, user in users.items()}
        layout = replace(layout, secrets=secrets, broker_passwords=passwords)
        if layout.tls_files is not None:
            development_certificates(layout.tls_files.directory, [s.name for s in SERVICES])
        prometheus = None if binary is None else observe.prometheus_spec(layout, binary)
        console = console or Console()
        names = [nats.NAME] if layout.embedded_broker else []
        names += [observe.NAME] if prometheus is not None else []
        console.register(names + [i.name for i in layout.all_instances()])
        asyncio.run(_up(layout, console, grace, users, prometheus))
    return 0
