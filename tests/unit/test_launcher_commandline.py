"""The command line's parsing and its one-line errors, without a running system.

Parsing is driven through typer's CliRunner; what a user sees (one line on stderr,
an exit code) through `main`, the `mercato` entry point.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mercato.launcher.cli import app, main
from mercato.launcher.logbook import Logbook
from mercato.launcher.params import migratable, service_names
from mercato.launcher.topology import BROKER_OFFSET, SERVICES

runner = CliRunner()


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No MERCATO_* variable of the shell; and what a command sets is undone."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith("MERCATO_"):
            monkeypatch.delenv(name)
    yield
    os.environ.clear()
    os.environ.update(saved)


def free_base_port() -> int:
    """A base port P whose broker port P+242 nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1]) - BROKER_OFFSET


def broker_port_named(args: list[str]) -> int:
    result = runner.invoke(app, args, prog_name="mercato")
    found = str(result.exception)
    match = re.search(r"cannot reach the broker at nats://127\.0\.0\.1:(\d+)", found)
    assert match, (result.output, result.exception)
    return int(match.group(1)) - BROKER_OFFSET


@pytest.mark.parametrize(
    "where",
    [
        ["dead-letters", "list", "--port", "{p}"],
        ["dead-letters", "--port", "{p}", "list"],
        ["--port", "{p}", "dead-letters", "list"],
    ],
)
def test_the_port_goes_anywhere(where: list[str], tmp_path: Path) -> None:
    port = free_base_port()
    args = [a.format(p=port) for a in where] + ["--data-dir", str(tmp_path)]
    assert broker_port_named(args) == port


def test_the_nearest_port_wins(tmp_path: Path) -> None:
    near, far = free_base_port(), free_base_port() + 1
    data = ["--data-dir", str(tmp_path)]
    args = ["--port", str(far), "dead-letters", "--port", str(far), "list", "--port", str(near)]
    assert broker_port_named([*args, *data]) == near
    assert broker_port_named(["--port", str(far), "dead-letters", "list", *data]) == far


@pytest.mark.parametrize(
    "args",
    [["status", "--data-dir", "{d}"], ["--data-dir", "{d}", "status"], ["status", "--json"]],
)
def test_the_data_directory_goes_anywhere(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MERCATO_DATA_DIR", str(tmp_path))  # the third uses the variable
    result = runner.invoke(app, [a.format(d=tmp_path) for a in args], prog_name="mercato")
    assert str(result.exception) == f"nothing runs from {tmp_path} (start it with `mercato up`)"


def help_text(args: list[str]) -> str:
    """A help page's words, without its boxes and line breaks."""
    output = runner.invoke(app, args, prog_name="mercato").output
    return " ".join(output.replace("│", " ").split())


def test_help_offers_every_command_and_each_choice(tmp_path: Path) -> None:
    top = runner.invoke(app, ["--help"], prog_name="mercato").output
    for command in ("up", "status", "logs", "stop", "open", "run", "migrate", "dead-letters"):
        assert re.search(rf"│ {command} ", top), command
    assert "--install-completion" in top
    migrate = help_text(["migrate", "--help"])
    offered = re.search(r"a service with a database: ([a-z, ]+?) \[required\]", migrate)
    assert offered and offered.group(1).split(", ") == migratable()
    assert "gateway" not in offered.group(1)
    run = help_text(["run", "--help"])
    assert ", ".join(service_names()) in run
    up = runner.invoke(app, ["up", "--help"], prog_name="mercato").output
    assert "<json|pretty>" in up and "MERCATO_LOG_FORMAT" in up


def test_the_services_offered_for_migration_are_those_with_a_database() -> None:
    with_database = [
        svc.name
        for svc in SERVICES
        if svc.wiring().spec.uses_database and svc.wiring().spec.migrations is not None
    ]
    assert migratable() == with_database


@pytest.mark.parametrize("service", migratable())
def test_every_service_offered_for_migration_migrates(
    service: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["migrate", service, "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{service}: database at the newest revision (")
    assert len(out.splitlines()) == 1  # no progress bar off a terminal


def one_line_error(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err
    return code, lines[0]


def test_user_errors_are_one_line_with_an_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path)]
    missing = f"nothing runs from {tmp_path} (start it with `mercato up`)"
    known = "auth, users, catalog, payments, logs, shipping, notifications, orders, web"
    assert one_line_error(["stauts"], capsys) == (
        2,
        "mercato: No such command 'stauts'. Did you mean 'status'? (see `mercato --help`)",
    )
    assert one_line_error(["migrate", "gateway", *data], capsys) == (
        2,
        f"mercato: gateway has no database to migrate (one of {known})",
    )
    assert one_line_error(["status", *data], capsys) == (3, f"mercato: {missing}")
    assert one_line_error(["open", "console", *data], capsys) == (3, f"mercato: {missing}")
    assert one_line_error(["open", "cart", *data], capsys)[0] == 2
    assert one_line_error(["logs", *data], capsys) == (
        2,
        f"mercato: no logs in {tmp_path / 'logs'} yet (`mercato up` writes them)",
    )
    assert one_line_error(["--port", "9000", "run", "users"], capsys) == (
        2,
        "mercato: `mercato run` takes its settings from MERCATO_* variables,"
        " not --port or --data-dir",
    )
    assert one_line_error(["up", "catalog=2", "lots", *data], capsys) == (
        2,
        "mercato: unexpected argument 'lots' (see `mercato up --help`)",
    )
    # `--replicas a=1 b=2` (argparse's form) still means two replicas.
    assert one_line_error(["up", "--replicas", "catalog=2", "users=lots", *data], capsys) == (
        2,
        "mercato: --replicas: users needs a whole number of replicas, got 'lots'",
    )


def test_stop_with_nothing_running_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stop", "--data-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"nothing runs from {tmp_path}\n"


def test_no_command_shows_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "Usage: mercato [OPTIONS] COMMAND [ARGS]..." in capsys.readouterr().out


def json_line(ts: str, msg: str, level: str = "info") -> str:
    return json.dumps({"ts": ts, "level": level, "msg": msg}, separators=(",", ":"))


@pytest.fixture
def logged(tmp_path: Path) -> Path:
    """The log files a stopped system left in its data directory."""
    book = Logbook(tmp_path / "logs")
    book.write("catalog-1", [json_line("2026-01-01T10:00:01.000Z", "c1 first")])
    book.write("gateway-1", [json_line("2026-01-01T10:00:02.000Z", "g1 second")])
    book.write("catalog-2", [json_line("2026-01-01T10:00:03.000Z", "c2 third", "warning")])
    book.write("catalog-1", [json_line("2026-01-01T10:00:04.000Z", "c1 fourth")])
    book.close()
    return tmp_path


def test_logs_are_merged_in_time_order_and_prefixed(
    logged: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["logs", "--data-dir", str(logged)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" | ")[0].rstrip() for line in lines] == [
        "catalog-1",
        "gateway-1",
        "catalog-2",
        "catalog-1",
    ]
    assert lines[0] == "catalog-1 | " + json_line("2026-01-01T10:00:01.000Z", "c1 first")


def test_logs_of_one_service_the_last_lines_raw_or_readable(
    logged: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = ["--data-dir", str(logged)]
    assert main(["logs", "catalog", "-n", "2", "--raw", *data]) == 0
    assert capsys.readouterr().out.splitlines() == [
        json_line("2026-01-01T10:00:03.000Z", "c2 third", "warning"),
        json_line("2026-01-01T10:00:04.000Z", "c1 fourth"),
    ]
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("NO_COLOR", "1")
    assert main(["logs", "catalog-2", "--log-format", "pretty", *data]) == 0
    assert capsys.readouterr().out == "catalog-2 │ 10:00:03 WRN c2 third\n"
    code, error = one_line_error(["logs", "orders", *data], capsys)
    assert code == 2
    assert error == (
        f"mercato: no logs of 'orders' in {logged / 'logs'}"
        " (there are: catalog-1, catalog-2, gateway-1)"
    )


def complete(words: str, cword: int) -> list[str]:
    env = {"_MERCATO_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    result = runner.invoke(app, [], env=env, prog_name="mercato")
    return result.output.split()


def test_the_shell_completes_commands_and_choices() -> None:
    assert complete("mercato mig", 1) == ["migrate"]
    assert complete("mercato migrate ", 2) == migratable()
    assert complete("mercato run ga", 2) == ["gateway"]
    assert complete("mercato open ", 2) == ["shop", "console"]


def test_completion_installs_with_one_command(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["--install-completion", "bash"], env={"HOME": str(tmp_path)}, prog_name="mercato"
    )
    assert result.exit_code == 0, result.output
    script = (tmp_path / ".bash_completions" / "mercato.sh").read_text()
    assert "_MERCATO_COMPLETE" in script
    assert "source" in (tmp_path / ".bashrc").read_text()


def _wait_until_it_maps(pid: int, library: str, timeout: float = 30.0) -> None:
    """Until a shared library whose path holds `library` is loaded (Linux's maps file)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if library in Path(f"/proc/{pid}/maps").read_text():
            return
        time.sleep(0.005)
    raise AssertionError(f"{library} was never loaded")


def test_ctrl_c_while_the_command_loads_ends_it_quietly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERCATO_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "mercato", "logs", "-f", "--data-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    # While the command's code loads (over a second: the chassis, SQLAlchemy, FastAPI,
    # ...): once its first compiled module is in the process, not before Python's own
    # start has ended (which can take a second on a busy machine).
    _wait_until_it_maps(process.pid, "pydantic_core")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert (out, err) == (b"", b"")
