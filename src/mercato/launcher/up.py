"""`mercato up`: the whole system on one machine, started in order, stopped cleanly.

1. refuse to start when a port is reserved or busy, or another `mercato up` uses the
   data directory (a lock file in `<data_dir>/run`); the data directory and what the
   launcher writes there are owner-only (`chassis.security.private_files`);
2. start the embedded NATS (unless `MERCATO_BROKER_URL` names an external broker) with
   a user and password per service and for the operator (`launcher.nats`), and
   every service process on hold (they import their code meanwhile), and wait for
   the broker's greeting; when no SMTP server is given, the development mail sink
   too (`launcher.mail_sink`), and its greeting;
3. release the services stage by stage, the services of a stage concurrently; of a
   replicated service, instance 1 first (it runs the migrations), then the others;
   each must answer `GET /health/ready` with 200 before the next stage goes;
4. with `--observe`, start Prometheus once the services are ready (`launcher.observe`;
   refused up front, in one line, when the machine has no `prometheus`);
5. print the URLs and the start time, then supervise until SIGINT or SIGTERM (what
   the terminal shows, and what the log files in `<data_dir>/logs` keep, is the
   console's: `launcher.console`, `launcher.dashboard`, `launcher.logbook`; what
   `mercato status` reads is in `<data_dir>/run`: `launcher.state`);
   with `--tls`, every process serves HTTPS with a certificate of the development CA
   in `<data_dir>/tls` (made at first start), services require a client certificate
   from that CA, and the probes of step 3 present the launcher's;
6. stop in reverse order (Prometheus, gateway, services, broker and mail sink),
   SIGKILL after the grace period;
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
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path

from mercato.chassis.security.private_files import private_directory, private_file
from mercato.chassis.security.tls import client_context
from mercato.launcher import mail_sink, nats, observe
from mercato.launcher.announce import announcement, gateway_url, operator_url
from mercato.launcher.certificates import LAUNCHER, development_certificates
from mercato.launcher.console import Console
from mercato.launcher.credentials import BrokerUser, broker_users, client_secrets
from mercato.launcher.errors import LauncherError, StartupError
from mercato.launcher.logbook import Logbook
from mercato.launcher.ports import check_ports
from mercato.launcher.probe import http_ok, nats_ok
from mercato.launcher.state import LAUNCHER_FILE, write_json
from mercato.launcher.supervisor import Child, ProcessSpec, Supervisor
from mercato.launcher.topology import HOST, SERVICES, Instance, Layout, stages
from mercato.launcher.topology import broker_users as broker_user_names

__all__ = ["GRACE_SECONDS", "LOG_DIR", "RUN_DIR", "STARTUP_TIMEOUT", "log_dir", "run_dir", "up"]

STARTUP_TIMEOUT = 60.0
GRACE_SECONDS = 15.0
BROKER_TIER = 0
DOUBLE_SIGNAL_SECONDS = 1.0
RUN_DIR = "run"  # in the data directory
LOG_DIR = "logs"


def run_dir(layout: Layout) -> Path:
    """Where pid files, state files and the launcher's lock live."""
    return layout.data_dir / RUN_DIR


def log_dir(layout: Layout) -> Path:
    """Where each process's log file is kept."""
    return layout.data_dir / LOG_DIR


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
        try:
            yield
        finally:
            handle.truncate(0)  # nobody holds it any more


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
        service=instance.service.name,
        port=instance.port,
        health=f"{instance.url}/health/ready",
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
                port=layout.broker_port,
                health=f"nats://{HOST}:{layout.broker_port}",
            )
        )
    sink = supervisor.launch(mail_sink.sink_spec(layout)) if layout.mail_sink else None
    # Every service process starts now, on hold: the imports (the slow part) run
    # while the broker starts; each is then released in the start order.
    held: dict[str, list[Child]] = {}
    tls = _probe_context(layout)
    for svc in SERVICES:
        specs = [_instance_spec(layout, inst, base, tls) for inst in layout.instances(svc)]
        held[svc.name] = [supervisor.launch(spec) for spec in specs]
    if broker is not None:
        await broker.wait_ready(STARTUP_TIMEOUT)
    if sink is not None:
        await sink.wait_ready(STARTUP_TIMEOUT)
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
    console.begin()
    starting = asyncio.create_task(_start(layout, supervisor, users, prometheus))
    stopping = asyncio.create_task(stop.wait())
    failing = asyncio.create_task(supervisor.failure())
    try:
        await asyncio.wait({starting, stopping, failing}, return_when=asyncio.FIRST_COMPLETED)
        if starting.done():
            starting.result()  # raises the start's error
            console.announce(announcement(layout, loop.time() - began))
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
        console.end()
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
        names += [mail_sink.NAME] if layout.mail_sink else []
        names += [i.name for i in layout.all_instances()]
        names += [observe.NAME] if prometheus is not None else []
        console.register(names)
        logbook = Logbook(log_dir(layout))
        console.record_to(logbook)
        try:
            with _launcher_file(layout):
                asyncio.run(_up(layout, console, grace, users, prometheus))
        finally:
            logbook.close()
    return 0


@contextlib.contextmanager
def _launcher_file(layout: Layout) -> Iterator[None]:
    """`run/mercato.json` while the launcher runs (`launcher.state`)."""
    path = run_dir(layout) / LAUNCHER_FILE
    write_json(
        path,
        {
            "pid": os.getpid(),
            "started_at": time.time(),
            "gateway": gateway_url(layout),
            "operator": operator_url(layout),
            "data_dir": str(layout.data_dir),
        },
    )
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
