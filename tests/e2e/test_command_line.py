"""The command line against a real system: `mercato up` on a terminal, then the rest.

One system, started on a pseudo-terminal as a person starts it, serves every test
here in order: its live table, URL panel and readable logs; `mercato status` (on a
terminal and off it, `--json`, with a process killed); `mercato logs` and
`logs -f`; `mercato open`; and `mercato stop`, last. It is not the shared e2e
system (`tests.e2e.system`), which starts off a terminal; `tests/e2e/conftest.py`
runs this module before that one starts, and `alone` fails rather than run both.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from mercato.launcher.topology import SERVICES
from tests.e2e.system import REPORTS, alone
from tests.support.ports import free_base_port
from tests.support.terminal import Terminal

pytestmark = pytest.mark.e2e

START_TIMEOUT = 180.0  # a shared 2-core machine can be slow
# The embedded broker, then every service's one instance, the gateway, the mail sink.
PROCESSES = ["nats", *(f"{s.name}-1" for s in SERVICES if not s.is_gateway)]
ALL = len(PROCESSES) + 2
PROCESSES += ["gateway-1", "mail"]


@dataclass
class TerminalSystem:
    """`mercato up` running on a terminal."""

    terminal: Terminal
    port: int
    data_dir: Path
    env: dict[str, str]

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def mercato(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Another `mercato` command on this system's data directory, off a terminal."""
        return subprocess.run(
            [sys.executable, "-m", "mercato", *args, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )

    def on_terminal(self, *args: str) -> Terminal:
        """Another `mercato` command on this system's data directory, on a terminal."""
        command = [sys.executable, "-m", "mercato", *args, "--data-dir", str(self.data_dir)]
        return Terminal(command, env=self.env)

    def pid(self, name: str) -> int:
        return int((self.data_dir / "run" / f"{name}.pid").read_text())


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TerminalSystem]:
    root = tmp_path_factory.mktemp("terminal-system")
    port = free_base_port({})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MERCATO_", "OTEL_"))}
    command = [sys.executable, "-m", "mercato", "up", "--port", str(port), "--no-demo"]
    command += ["--data-dir", str(root / "data")]
    with alone("terminal"), Terminal(command, env=env, columns=130) as terminal:
        system = TerminalSystem(terminal, port, root / "data", env)
        try:
            terminal.wait_for(r"Mercato is ready in [\d.]+ s", START_TIMEOUT)
            yield system
        finally:
            if terminal.process.poll() is None:  # it did not start, or a test failed early
                _stop(system)


def _stop(system: TerminalSystem) -> None:
    """Ctrl-C, as a person would; and if that does not stop it, kill every process."""
    system.terminal.interrupt()
    try:
        system.terminal.wait(90)
    except subprocess.TimeoutExpired:
        for pid_file in (system.data_dir / "run").glob("*.pid"):
            with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
                os.killpg(int(pid_file.read_text()), signal.SIGKILL)


@pytest.fixture(autouse=True)
def _launcher_log_on_failure(request: pytest.FixtureRequest, up: TerminalSystem) -> Iterator[None]:
    """Print the terminal when a test fails (instead of the shared system's log)."""
    yield
    if any(report.failed for report in request.node.stash.get(REPORTS, {}).values()):
        print(f"--- the terminal of `mercato up` ---\n{up.terminal.screen()[-20000:]}")


def test_up_shows_a_live_table_then_the_urls_then_readable_logs(up: TerminalSystem) -> None:
    screen = up.terminal.screen()
    ready_in = up.terminal.wait_for(r"Mercato is ready in [\d.]+ s").start()
    starting, after = screen[:ready_in], screen[ready_in:]
    assert re.search(rf"Starting Mercato: \d of {ALL} ready, [\d.]+ s", starting)
    assert re.search(r"process +state +pid +port +since", starting)
    assert re.search(r"migrating", starting)  # each service migrates its new database
    for name in PROCESSES:  # the table's last frame, every process ready
        assert re.search(rf"✓ +{name} +ready +{up.pid(name)} +\d+ +[\d.]+ s", starting), name
    # Nothing but what matters while starting: the services' info lines are in the files.
    assert '{"ts"' not in screen
    assert re.search(r"auth-1 +│ +mercato auth: created admin admin@mercato\.local with", starting)

    operator = f"http://127.0.0.1:{up.port + 100}"
    panel = {
        "shop": f"{up.gateway}/",
        "console": f"{up.gateway}/ops",
        "gateway": up.gateway,
        "docs": f"{operator}/api/<service>/docs",
        "events": f"{operator}/asyncapi.json",
        "metrics": f"{operator}/metrics",
        "broker": f"nats://127.0.0.1:{up.port + 242}",
    }
    for what, url in panel.items():
        assert re.search(rf"│ {what} +{re.escape(url)}", after), what
    assert re.search(r"│ admin +admin@mercato\.local  password \S+  \(shown once\)", after)
    assert "\x1b[" in up.terminal.output()  # in colour

    missing = f"/api/catalog/products/{uuid.uuid4()}"
    mark = len(up.terminal.screen())
    assert httpx.get(up.gateway + missing, timeout=10).status_code == 404
    up.terminal.wait_for(
        rf"gateway-1 +│ \d\d:\d\d:\d\d INF GET {missing} 404 [\d.]+ ms", 15, since=mark
    )


def test_status_off_a_terminal_and_as_json(up: TerminalSystem) -> None:
    table = up.mercato("status")
    assert table.returncode == 0, table.stderr
    for name in PROCESSES:
        assert re.search(rf"│ {name} +│ \S+ +│ +{up.pid(name)} │ +\d+ │ ready +│", table.stdout)
    assert f"Mercato at {up.gateway} (launcher pid {up.terminal.process.pid}," in table.stdout
    assert table.stdout.rstrip().endswith(f"all {ALL} processes are ready")
    assert "\x1b[" not in table.stdout

    found = up.mercato("status", "--json")
    assert found.returncode == 0
    doc = json.loads(found.stdout)
    assert doc["ready"] is True
    assert doc["launcher"]["shop"] == f"{up.gateway}/"
    assert [p["name"] for p in doc["processes"]] == PROCESSES
    for process in doc["processes"]:
        assert process["pid"] == up.pid(process["name"])
        assert process["memory_bytes"] > 1 << 20
        assert process["restarts"] == 0


def test_status_on_a_terminal_is_a_coloured_table(up: TerminalSystem) -> None:
    with up.on_terminal("status") as terminal:
        assert terminal.wait(120) == 0
        assert re.search(r"┃ process +┃ service +┃", terminal.screen())
        assert f"all {ALL} processes are ready" in terminal.screen()
        assert "\x1b[32mready" in terminal.output()


def test_logs_off_a_terminal_and_on_one(up: TerminalSystem) -> None:
    found = up.mercato("logs", "catalog", "-n", "3")
    assert found.returncode == 0
    lines = found.stdout.splitlines()
    assert len(lines) == 3
    for line in lines:
        name, _, text = line.partition(" | ")
        assert name.strip() == "catalog-1"
        assert json.loads(text)["service"] == "catalog"

    with up.on_terminal("logs", "mercato", "-n", "0") as terminal:
        assert terminal.wait(120) == 0
        screen = terminal.screen()
    assert re.search(r"mercato │ \d\d:\d\d:\d\d INF ready in [\d.]+ s", screen)
    assert re.search(r"mercato │ \d\d:\d\d:\d\d INF   shop +http://", screen)


def test_logs_follow_until_ctrl_c(up: TerminalSystem) -> None:
    with up.on_terminal("logs", "gateway", "-f", "-n", "1") as terminal:
        missing = f"/api/catalog/products/{uuid.uuid4()}"
        deadline = time.monotonic() + 60
        while f"GET {missing} 404" not in terminal.screen():  # once it follows
            assert time.monotonic() < deadline, terminal.screen()
            httpx.get(up.gateway + missing, timeout=10)
            time.sleep(0.5)
        assert re.search(rf"gateway-1 │ \d\d:\d\d:\d\d INF GET {missing} 404", terminal.screen())
        terminal.interrupt()
        assert terminal.wait(30) == 0
        assert "Traceback" not in terminal.screen()
        assert "KeyboardInterrupt" not in terminal.screen()


def test_open_uses_the_browser_where_there_is_one(up: TerminalSystem, tmp_path: Path) -> None:
    opened = tmp_path / "opened"
    browser = tmp_path / "browser"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o700)
    up.env["BROWSER"] = str(browser)
    try:
        shop = up.mercato("open")
        console = up.mercato("open", "console")
    finally:
        del up.env["BROWSER"]
    assert (shop.returncode, shop.stdout) == (0, f"opened {up.gateway}/\n")
    assert (console.returncode, console.stdout) == (0, f"opened {up.gateway}/ops\n")
    assert opened.read_text().splitlines() == [f"{up.gateway}/", f"{up.gateway}/ops"]

    bare = {k: v for k, v in up.env.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    nowhere = subprocess.run(
        [sys.executable, "-m", "mercato", "open", "--data-dir", str(up.data_dir)],
        capture_output=True,
        text=True,
        env={**bare, "PATH": str(tmp_path / "no-browsers")},
        timeout=120,
        check=False,
    )
    assert (nowhere.returncode, nowhere.stdout) == (
        0,
        f"no browser found here; the shop is at {up.gateway}/\n",
    )


def test_status_fails_while_a_process_does_not_answer(up: TerminalSystem) -> None:
    stuck = up.pid("catalog-1")
    os.kill(stuck, signal.SIGSTOP)  # alive, but answering nothing: until SIGCONT
    try:
        down = up.mercato("status", "--json")
        table = up.mercato("status")
    finally:
        os.kill(stuck, signal.SIGCONT)
    assert down.returncode == 1
    doc = json.loads(down.stdout)
    assert doc["ready"] is False
    health = {p["name"]: p["health"] for p in doc["processes"]}
    assert health["catalog-1"] == "down"
    assert table.returncode == 1
    summary = table.stdout.rstrip().splitlines()[-1]
    # The gateway may find itself not ready too while its catalog does not answer.
    assert re.fullmatch(rf"\d of {ALL} processes are not ready: .*catalog-1 \(down\).*", summary)

    deadline = time.monotonic() + 60
    while (again := up.mercato("status", "--json")).returncode != 0:
        assert time.monotonic() < deadline, again.stdout
    assert json.loads(again.stdout)["ready"] is True


def test_a_killed_process_is_restarted_and_counted(up: TerminalSystem) -> None:
    before = up.pid("catalog-1")
    mark = len(up.terminal.screen())
    os.kill(before, signal.SIGKILL)

    up.terminal.wait_for(r"catalog-1 is ready again \(pid \d+\)", 90, since=mark)
    back = up.mercato("status", "--json")
    assert back.returncode == 0
    [catalog] = [p for p in json.loads(back.stdout)["processes"] if p["name"] == "catalog-1"]
    assert (catalog["health"], catalog["restarts"]) == ("ready", 1)
    assert catalog["pid"] == up.pid("catalog-1") != before
    screen = up.terminal.screen()[mark:]
    assert re.search(r"mercato +│ \d\d:\d\d:\d\d INF catalog-1 was killed by SIGKILL;", screen)


def test_stop_stops_it_and_then_nothing_runs(up: TerminalSystem) -> None:
    launcher = up.terminal.process.pid
    with up.on_terminal("stop") as terminal:
        assert terminal.wait(120) == 0
        assert re.search(
            rf"stopped Mercato \(launcher pid {launcher}\) in [\d.]+ s", terminal.screen()
        )
    assert up.terminal.wait(30) == 0
    assert re.search(r"mercato +│ \d\d:\d\d:\d\d INF stopped\s*$", up.terminal.screen())
    run = up.data_dir / "run"
    assert sorted(p.name for p in run.iterdir()) == ["mercato.lock"]
    assert (run / "mercato.lock").read_text() == ""

    status = up.mercato("status")
    assert (status.returncode, status.stderr) == (
        3,
        f"mercato: nothing runs from {up.data_dir} (start it with `mercato up`)\n",
    )
    again = up.mercato("stop")
    assert (again.returncode, again.stdout) == (0, f"nothing runs from {up.data_dir}\n")
    # What it logged stays for `mercato logs`, bounded, in the data directory.
    assert (up.data_dir / "logs" / "gateway-1.log").stat().st_size > 0
