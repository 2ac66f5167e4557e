"""The `mercato` command as a user meets it: one-line errors, exit codes, no tracebacks."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mercato.launcher.cli import main
from mercato.launcher.console import without_password
from mercato.launcher.ports import port_is_free
from mercato.launcher.topology import Layout
from tests.support.ports import free_base_port


def mercato(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MERCATO_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "mercato", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )


def test_run_an_unknown_service_exits_2_with_one_line() -> None:
    result = mercato("run", "nosuch")

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "mercato: unknown service 'nosuch' "
        "(one of auth, users, catalog, payments, logs, shipping, notifications, orders, web, "
        "gateway)"
    ]
    assert result.stdout == ""


def test_a_bad_variable_is_named_in_one_line_without_a_traceback() -> None:
    result = mercato("run", "catalog", env={"MERCATO_CATALOG_PORT": "abc"})

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("mercato: MERCATO_CATALOG_PORT")


def test_bad_replicas_exit_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["up", "--replicas", "catalog=lots"])

    assert code == 2
    err = capsys.readouterr().err
    assert err == "mercato: --replicas: catalog needs a whole number of replicas, got 'lots'\n"


def test_usage_errors_are_one_line() -> None:
    result = mercato("up", "--port", "abc")

    assert result.returncode == 2
    assert result.stderr.splitlines() == ["mercato: --port: must be a port number, got 'abc'"]
    assert result.stdout == ""


def test_an_unknown_option_is_one_line_naming_the_help() -> None:
    result = mercato("up", "--bogus")

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "mercato: No such option: --bogus (see `mercato up --help`)"
    ]
    assert result.stdout == ""


@pytest.mark.parametrize("command", [["up", "--port", "31900"], ["run", "users"]])
def test_a_data_directory_that_cannot_be_made_is_one_line(
    command: list[str], tmp_path: Path
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    data_dir = blocker / "data"

    result = mercato(
        *command,
        env={"MERCATO_DATA_DIR": str(data_dir), "MERCATO_USERS_DATA_DIR": str(data_dir)},
    )

    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert re.fullmatch(
        rf"mercato: cannot use {re.escape(str(data_dir))}\S*: Not a directory", lines[0]
    )


def test_up_refuses_a_busy_port_naming_it(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        base = busy.getsockname()[1] - 130  # where catalog-1 would listen

        result = mercato("up", "--port", str(base), "--data-dir", str(tmp_path))

    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"mercato: port {base + 130} (for catalog-1) is already in use;"
        " stop what listens there or choose another --port"
    ]


def test_up_refuses_a_standard_port(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["up", "--port", str(5432 - 130), "--data-dir", str(tmp_path)])

    assert code == 2
    assert "port 5432 (catalog-1) is the standard PostgreSQL port" in capsys.readouterr().err


def test_up_stops_everything_and_exits_1_when_a_service_cannot_start(tmp_path: Path) -> None:
    base = free_base_port()

    result = mercato(
        "up",
        "--port",
        str(base),
        "--data-dir",
        str(tmp_path),
        env={"MERCATO_CATALOG_CURRENCY": "usd"},
    )

    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "mercato: catalog-1 exited with code 2 before it was ready"
    ]
    assert re.search(r"^catalog-1 +\| mercato: MERCATO_CATALOG_CURRENCY: ", result.stdout, re.M)
    assert re.search(r"^mercato +\| stopped$", result.stdout.rstrip().splitlines()[-1])
    assert not list((tmp_path / "run").glob("*.pid"))
    assert all(port_is_free(port) for port in Layout(port=base).ports())


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("amqp://guest:s3cret@127.0.0.1:5672/", "amqp://guest:***@127.0.0.1:5672/"),
        ("nats://user:pw@[::1]:4222", "nats://user:***@[::1]:4222"),
        ("nats://127.0.0.1:4322", "nats://127.0.0.1:4322"),
        ("amqp://only-user@host/vhost", "amqp://only-user@host/vhost"),
    ],
)
def test_a_broker_url_is_shown_without_its_password(url: str, shown: str) -> None:
    assert without_password(url) == shown
