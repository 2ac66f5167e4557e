"""The container suite's fixtures: the images built once, deploy/compose.yaml up once.

The suite runs only when MERCATO_CONTAINER_TESTS=1 (`make compose-test`; CI sets it
for its own run beside `make test`): it builds images and runs some twenty
containers, minutes of work that the ordinary test run must not start. With the
variable set and podman or debootstrap missing, it skips, or fails under
MERCATO_REQUIRE_SERVERS=1. The stack comes down at the end of the session, failed
or not: containers, network and volumes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.container.images import build_images, podman_env
from tests.container.stack import ADMIN_EMAIL, MERCATO, Stack
from tests.e2e.client import ADMIN_PASSWORD, Account, Shop, eventually

ENABLE = "MERCATO_CONTAINER_TESTS"
# A file `Stack.keep` wrote: run the tests on that stack rather than on a new one.
REUSE = "MERCATO_CONTAINER_STACK"
READY_TIMEOUT = 90.0
TOOLS = ("podman", "debootstrap", "runc")


def enabled() -> bool:
    """Whether this run asked for the container suite."""
    return os.environ.get(ENABLE) == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the whole suite unless it was asked for."""
    if enabled():
        return
    skip = pytest.mark.skip(reason=f"the container suite runs with {ENABLE}=1 (make compose-test)")
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """deploy/compose.yaml running under podman, healthy, on images built here."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        reason = f"the container suite needs {', '.join(missing)} (apt-get install podman ...)"
        if os.environ.get("MERCATO_REQUIRE_SERVERS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    say = _printer(request)
    if os.environ.get(REUSE):  # a stack left up by hand: used as it is, never taken down
        yield Stack.attach(Path(os.environ[REUSE]))
        return
    started = time.monotonic()
    images = build_images(say)
    say(f"images ready in {time.monotonic() - started:.0f} s")
    stack = Stack(images)
    started = time.monotonic()
    with stack.running():
        say(f"compose stack {stack.project} up and healthy in {time.monotonic() - started:.0f} s")
        try:
            ready_through_the_edge(stack)
            yield stack
        finally:
            if request.session.testsfailed:  # the stack goes with its logs: show them first
                say(what_went_wrong(stack))
        say("taking the stack down")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the test, for `_logs_of_a_failed_test`."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(autouse=True)
def _logs_of_a_failed_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A failed test prints what the services logged while it ran.

    The session's report (`what_went_wrong`) comes after every test and shows only the
    last lines of each container; this one is the failed test's own window: its
    warnings and errors, and every request a service took a second or more to answer
    (the access log's `duration_ms`), which tells a slow service from a lost request.
    """
    started = time.time()
    yield
    failed = any(
        getattr(request.node, f"report_{when}", None) is not None
        and getattr(request.node, f"report_{when}").failed
        for when in ("setup", "call")
    )
    if failed and "stack" in request.fixturenames:
        stack: Stack = request.getfixturevalue("stack")
        _printer(request)(logged_since(stack, started - 1))


def _notable(line: str, slow_ms: float) -> bool:
    if '"level":"warning"' in line or '"level":"error"' in line:
        return True
    _, found, rest = line.partition('"duration_ms":')
    if not found:
        return False
    try:
        return float(rest.split(",", 1)[0].rstrip("}")) >= slow_ms
    except ValueError:
        return False


def logged_since(stack: Stack, since: float, lines: int = 40, slow_ms: float = 1000) -> str:
    """Each Mercato container's warnings, errors and slow requests since a Unix time."""
    parts = ["what the services logged during the failed test (warnings, errors, slow requests):"]
    for service in MERCATO:
        for container in stack.containers(service):
            logged = [
                line
                for line in stack.logs(container, since).splitlines()
                if _notable(line, slow_ms)
            ]
            parts.append(f"--- {container}: {len(logged)}")
            parts += [line[:600] for line in logged[-lines:]]
    return "\n".join(parts)


def what_went_wrong(stack: Stack, lines: int = 25) -> str:
    """The last warnings and errors each Mercato container logged, for a failed run."""
    parts = ["what the services logged (warnings and errors, the last of each):"]
    for service in MERCATO:
        for container in stack.containers(service):
            logged = [
                line
                for line in stack.logs(container).splitlines()
                if '"level":"warning"' in line or '"level":"error"' in line
            ]
            parts.append(f"--- {container}: {len(logged)} warnings and errors")
            parts += [line[:600] for line in logged[-lines:]]
            parts.append(f"    reaching auth from it now: {reach_auth(container)}")
    return "\n".join(parts)


# Run inside a service's container: how long resolving `auth` and a GET of its JWKS
# take from there now (a lookup the services' clients would not have cached).
_PROBE = """
import socket, time, urllib.request
started = time.monotonic()
try:
    found = sorted({a[4][0] for a in socket.getaddrinfo("auth", 8000)})
except OSError as exc:
    found = [repr(exc)]
looked = time.monotonic() - started
try:
    urllib.request.urlopen("http://auth:8000/.well-known/jwks.json", timeout=10).read()
    answer = "ok"
except Exception as exc:
    answer = repr(exc)
print(f"auth is {found} ({looked:.2f} s); its JWKS: {answer} ({time.monotonic() - started:.2f} s)")
"""


def reach_auth(container: str) -> str:
    """What a container sees of auth now: name resolution and the JWKS (a flake's clue)."""
    try:
        done = subprocess.run(
            ["podman", "exec", container, "python", "-c", _PROBE],
            env=podman_env(),
            capture_output=True,
            text=True,
            timeout=40,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return "the probe did not end within 40 s"
    return (done.stdout + done.stderr).strip()[-400:]


def ready_through_the_edge(stack: Stack) -> None:
    """Wait (bounded) until the published port answers for every service and auth signs in."""

    def ready() -> bool | None:
        try:
            with httpx.Client(base_url=stack.base_url, timeout=5.0, trust_env=False) as http:
                health = http.get("/health")
                login = http.post(
                    "/api/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
                )
        except httpx.HTTPError:
            return None
        return True if health.status_code == 200 and login.status_code == 200 else None

    eventually(ready, timeout=READY_TIMEOUT, interval=1.0)


@pytest.fixture(scope="session")
def shop(stack: Stack) -> Iterator[Shop]:
    """The e2e client helper, on the published port only."""
    with httpx.Client(base_url=stack.base_url, timeout=15.0, trust_env=False) as http:
        yield Shop(http)


@pytest.fixture
def admin(shop: Shop) -> Account:
    """The administrator auth created at its first start."""
    tokens = shop.login(ADMIN_EMAIL, ADMIN_PASSWORD)
    me = shop.http.get("/api/auth/me", headers=Shop.headers(tokens["access_token"]))
    assert me.status_code == 200, me.text
    return Account(me.json()["id"], ADMIN_EMAIL, ADMIN_PASSWORD, me.json()["name"], tokens)


@pytest.fixture
def customer(shop: Shop) -> Account:
    """A new customer for this test."""
    return shop.new_customer()


@pytest.fixture
def report(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Print a line of figures (recovery times, throughput) in the test run's output."""
    return _printer(request)


def _printer(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """A function printing a line on the terminal at once, past pytest's capture."""
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def say(line: str) -> None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print(f"\ncontainer suite: {line}", flush=True)

    return say
