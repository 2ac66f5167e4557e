"""The whole system for end-to-end tests: `mercato up` in a subprocess, and its fixtures.

`system` runs `python -m mercato up` in a subprocess on a free random base port with
its own data directory and two catalog replicas (and `--observe` when the machine
has Prometheus), waits for the gateway's `/health` to answer 200, and at the end
stops it with SIGTERM, asserting a clean exit 0. It is
session-scoped and parametrized by broker, so every test using it runs twice: on the
embedded NATS JetStream (`nats`) and on the machine's RabbitMQ (`rabbitmq`); a test
for which the broker does not matter asks for one with
`@pytest.mark.parametrize("system", ["nats"], indirect=True)`. pytest runs every
test of one broker before it starts the other system, and stops the first system
before; the fixture fails if it ever finds another one running, since two systems
would not fit on the 2-core machines this runs on. The RabbitMQ system uses a
namespace of its own, deleted at the end, and reaches RabbitMQ through a proxy that
fault tests cut (see `tests.e2e.brokers`). Without a RabbitMQ server the `rabbitmq`
half is skipped with the reason, and fails under MERCATO_REQUIRE_SERVERS=1. A third
kind, `postgres` (NATS, and every database on the machine's PostgreSQL), is only
started for the tests that ask for it (the fuzzing), and is skipped the same way
without a PostgreSQL server; so is `mariadb` (NATS, and every database on the machine's
MariaDB, `tests/e2e/test_mariadb.py`). A fifth, `traced` (NATS, every process exporting its
spans to the session's `otlp_receiver` over OTLP/HTTP, in batches 200 ms apart), is
likewise only started for the tests that ask for it. No system sees the OTEL_*
variables of the shell that runs the tests.

The fixtures live here, not in a conftest, so that every level that drives the
running system (`tests/e2e`, `tests/security`) shares the one session instance:
`tests/conftest.py` imports them.

The orders service runs with a shorter saga lease and sweep than its defaults, and
NATS with a shorter acknowledgement wait (`RECOVERY_ENV`), so that a saga a crash
interrupted resumes in seconds, not ~40 s, and so do events a killed consumer held.
The gateway cuts slow clients off sooner than its defaults (`EDGE_ENV`), so that the
security tests of those bounds take seconds; and its rate limits are raised far above
what a test sends (still on, every request still counted): every test is one client,
127.0.0.1, and at the defaults (50 requests/s per client, 20 writes/s per user) the
fuzzing spent most of its time waiting out 429s (catalog's: 54 s, 8 s with the limits
out of the way). The limits themselves are tested on the gateway's own
(`tests/service/test_gateway_edge.py`).

The launcher's output goes to a log file; `print_launcher_log` prints what the
launcher wrote while a failing test ran, and a failed start prints the whole log.

`shop` is the small client helper: an httpx client on the gateway with `register`,
`login`, `new_customer` and `headers`. `customer` is a fresh customer per test,
`admin` the administrator the system was started with.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from bench.system import mariadb_databases, postgres_databases
from mercato.launcher.topology import SERVICES
from tests.e2e.brokers import (
    BrokerControl,
    EmbeddedNats,
    ProxiedRabbit,
    delete_rabbit_namespace,
    proxied,
)
from tests.e2e.client import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    CHARGE_LEASE_SECONDS,
    EDGE_BODY_TIMEOUT,
    EDGE_HEAD_TIMEOUT,
    EDGE_KEEPALIVE_TIMEOUT,
    EVENT_ACK_WAIT_SECONDS,
    SAGA_LEASE_SECONDS,
    SAGA_STALE_SECONDS,
    SAGA_SWEEP_SECONDS,
    Account,
    Shop,
    System,
)
from tests.support.otlp import OtlpReceiver
from tests.support.ports import free_base_port
from tests.support.servers import mariadb_test_server, postgres_test_server, rabbit_test_url

START_TIMEOUT = 60.0
STOP_TIMEOUT = 90.0
REPLICAS = {"catalog": 2}
LOG_TAIL = 60
BROKERS = ["nats", "rabbitmq"]
# The gateway's bounds on slow clients, seconds instead of its defaults' tens of seconds;
# its rate limits far above what one test sends (see the module's docstring).
EDGE_ENV = {
    "MERCATO_GATEWAY_HTTP_HEAD_TIMEOUT_SECONDS": str(EDGE_HEAD_TIMEOUT),
    "MERCATO_GATEWAY_HTTP_BODY_TIMEOUT_SECONDS": str(EDGE_BODY_TIMEOUT),
    "MERCATO_GATEWAY_HTTP_KEEPALIVE_TIMEOUT_SECONDS": str(EDGE_KEEPALIVE_TIMEOUT),
    "MERCATO_GATEWAY_CLIENT_RATE": "2000",
    "MERCATO_GATEWAY_CLIENT_BURST": "2000",
    "MERCATO_GATEWAY_USER_RATE": "2000",
    "MERCATO_GATEWAY_USER_BURST": "2000",
}
RECOVERY_ENV = {
    "MERCATO_ORDERS_LEASE_SECONDS": str(SAGA_LEASE_SECONDS),
    "MERCATO_ORDERS_SWEEP_INTERVAL_SECONDS": str(SAGA_SWEEP_SECONDS),
    "MERCATO_ORDERS_STALE_AFTER_SECONDS": str(SAGA_STALE_SECONDS),
    "MERCATO_EVENT_ACK_WAIT_SECONDS": str(EVENT_ACK_WAIT_SECONDS),
    # A charge the provider did not answer is looked up within seconds, not 30-40 s.
    "MERCATO_PAYMENTS_CHARGE_LEASE_SECONDS": str(CHARGE_LEASE_SECONDS),
    "MERCATO_PAYMENTS_RECONCILE_INTERVAL_SECONDS": "1",
}
# The `traced` system's batches of spans go out 200 ms apart rather than 5 s.
TRACED_ENV = {"OTEL_BSP_SCHEDULE_DELAY": "200"}


REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


def _stop(system: System) -> int | None:
    """SIGTERM the launcher; its return code, or None if it had to be killed."""
    if system.process.poll() is None:
        system.process.send_signal(signal.SIGTERM)
    try:
        return system.process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        system.process.kill()
        system.process.wait()
        for pid in system.pids():  # leave no orphan behind
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        return None


def _wait_healthy(system: System) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(base_url=system.base_url, timeout=3.0, trust_env=False) as http:
        while time.monotonic() < deadline:
            if system.process.poll() is not None:
                raise RuntimeError(f"`mercato up` exited with {system.process.returncode}")
            with contextlib.suppress(httpx.HTTPError):
                if http.get("/health").status_code == 200:
                    return
            time.sleep(0.25)
    raise RuntimeError(f"the gateway's /health was not 200 within {START_TIMEOUT:.0f} s")


@contextlib.contextmanager
def _broker(kind: str) -> Iterator[tuple[BrokerControl, dict[str, str]]]:
    """The broker of a system and the variables that point `mercato up` at it.

    `postgres` is the embedded NATS with every service's database on the machine's
    PostgreSQL (fresh databases, dropped afterwards) instead of SQLite files; `mariadb`
    the same on the machine's MariaDB.
    """
    if kind in ("nats", "traced"):
        yield EmbeddedNats(), {}  # the launcher runs it
        return
    if kind == "postgres":
        server = postgres_test_server()  # skips (or fails) when PostgreSQL is absent
        with postgres_databases(server, prefix="mercato_e2e") as databases:
            # 7 processes with a database (catalog has 2): well under max_connections.
            yield EmbeddedNats(), {**databases, "MERCATO_DATABASE_POOL_SIZE": "5"}
        return
    if kind == "mariadb":
        server = mariadb_test_server()  # skips (or fails) when MariaDB is absent
        with mariadb_databases(server, prefix="mercato_e2e") as databases:
            yield EmbeddedNats(), {**databases, "MERCATO_DATABASE_POOL_SIZE": "5"}
        return
    url = rabbit_test_url()  # skips (or fails) when RabbitMQ is absent
    # A namespace of this run only: nothing an earlier run left behind leaks in.
    namespace = f"e2e_{uuid.uuid4().hex[:12]}"
    try:
        with proxied(url) as proxy:
            env = {"MERCATO_BROKER_URL": proxy.url_for(url), "MERCATO_BUS_NAMESPACE": namespace}
            yield ProxiedRabbit(proxy), env
    finally:
        consumers = [svc.name for svc in SERVICES if svc.broker]
        delete_rabbit_namespace(url, namespace, consumers)


@contextlib.contextmanager
def alone(kind: str) -> Iterator[None]:
    """Fail rather than start a system while another one is up: two do not fit on 2 cores.

    Every fixture that starts a whole system (this module's, and the terminal system
    of `test_command_line.py`) starts it inside this.
    """
    if _UP:
        pytest.fail(f"the e2e system on {_UP[0]} is still running", pytrace=False)
    _UP.append(kind)
    try:
        yield
    finally:
        _UP.remove(kind)


_UP: list[str] = []  # the broker of the system that is up, if one is


@pytest.fixture(scope="session", params=BROKERS)
def system(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[System]:
    """The whole system on one broker, started once per broker with `mercato up`."""
    with alone(request.param), _broker(request.param) as (broker, broker_env):
        root = tmp_path_factory.mktemp(f"e2e-{request.param}")
        port = free_base_port(REPLICAS)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MERCATO_", "OTEL_"))}
        env.update(MERCATO_ADMIN_EMAIL=ADMIN_EMAIL, MERCATO_ADMIN_PASSWORD=ADMIN_PASSWORD)
        env.update(RECOVERY_ENV, **EDGE_ENV, **broker_env)
        if request.param == "traced":
            receiver: OtlpReceiver = request.getfixturevalue("otlp_receiver")
            env.update(TRACED_ENV, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
        replicas = [f"{name}={count}" for name, count in REPLICAS.items()]
        command = [sys.executable, "-m", "mercato", "up", "--port", str(port)]
        command += ["--data-dir", str(root / "data"), "--replicas", *replicas]
        observed = shutil.which("prometheus") is not None  # `test_observe` says when not
        command += ["--observe"] if observed else []
        log_path = root / "mercato-up.log"
        with open(log_path, "wb") as log:
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        running = System(process, port, root / "data", log_path, broker, observed)
        try:
            _wait_healthy(running)
        except BaseException as exc:
            code = _stop(running)
            print(f"--- mercato up (exit {code}) ---\n{running.log()}")
            pytest.fail(f"the system did not start: {exc}", pytrace=False)
        yield running
        code = _stop(running)
        if code != 0:
            print(f"--- mercato up (exit {code}) ---\n{running.log()}")
        assert code == 0, f"`mercato up` exited with {code} after SIGTERM"


def print_launcher_log(request: pytest.FixtureRequest, system: System) -> Iterator[None]:
    """Around a test: print what the launcher (and every service) wrote, if it failed."""
    start = system.log_path.stat().st_size
    yield
    reports = request.node.stash.get(REPORTS, {})
    if any(r.failed for r in reports.values()):
        with open(system.log_path, "rb") as log:
            log.seek(start)
            lines = log.read().decode(errors="replace").splitlines()
        # The launcher's own lines and every service's warnings and errors, then the tail.
        notable = [line for line in lines if line.startswith("mercato ") or _notable(line)]
        print(f"--- mercato up, during {request.node.name}: notable lines ---")
        print("\n".join(notable))
        print(f"--- mercato up, during {request.node.name}: the last {LOG_TAIL} lines ---")
        print("\n".join(lines[-LOG_TAIL:]))


def _notable(line: str) -> bool:
    """Whether a service's log line is more than information (or not JSON at all)."""
    _, _, text = line.partition("| ")
    quiet = ('"level":"info"', '"level":"debug"')
    return not text.startswith("{") or not any(level in text for level in quiet)


@pytest.fixture(scope="session")
def otlp_receiver() -> Iterator[OtlpReceiver]:
    """The collector the `traced` system sends its spans to."""
    with OtlpReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="session")
def shop(system: System) -> Iterator[Shop]:
    """The client helper on the running system's gateway."""
    with httpx.Client(base_url=system.base_url, timeout=15.0, trust_env=False) as http:
        yield Shop(http)


@pytest.fixture
def customer(shop: Shop) -> Account:
    """A new customer for this test."""
    return shop.new_customer()


@pytest.fixture
def admin(shop: Shop) -> Account:
    """The administrator `mercato up` created from MERCATO_ADMIN_EMAIL/PASSWORD."""
    tokens = shop.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    me = shop.http.get("/api/auth/me", headers=Shop.headers(tokens["access_token"]))
    assert me.status_code == 200, me.text
    return Account(me.json()["id"], ADMIN_EMAIL, ADMIN_PASSWORD, me.json()["name"], tokens)
