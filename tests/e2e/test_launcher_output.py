"""`mercato up` off a terminal, as CI and containers see it: the shared system's log.

Its output is what it has always been (each process's lines as written, JSON for the
services, behind a padded `name |` prefix; the launcher's own plain lines), the same
lines are kept in the log files, and `mercato status` sees every process of a
system with replicas (and Prometheus, when the machine has it).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest

from mercato.launcher.logbook import last_lines
from tests.e2e.client import System, eventually

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("system", ["nats"], indirect=True)]

PREFIXED = re.compile(r"^(\S+) +\| (.*)$")


def test_off_a_terminal_the_lines_are_as_they_always_were(system: System) -> None:
    # The gateway answers a moment before the launcher's own probe has seen it ready.
    eventually(lambda: True if "| ready in " in system.log() else None, timeout=30)
    text = system.log()
    assert "\x1b[" not in text  # no colour, no cursor movement
    lines = text.splitlines()
    assert len({line.index(" | ") for line in lines}) == 1  # one prefix width
    by_name: dict[str, list[str]] = {}
    for line in lines:
        match = PREFIXED.match(line)
        assert match, line
        by_name.setdefault(match.group(1), []).append(match.group(2))

    said = by_name["mercato"]
    ready = next(k for k, said_line in enumerate(said) if said_line.startswith("ready in "))
    assert re.fullmatch(r"ready in \d+\.\d s", said[ready])
    gateway = f"http://127.0.0.1:{system.port}"
    assert [line.split() for line in said[ready + 1 : ready + 4]] == [
        ["gateway", gateway],
        ["shop", f"{gateway}/"],
        ["console", f"{gateway}/ops"],
    ]
    assert any(line.startswith("data in ") for line in said[ready:])

    for name in ("auth-1", "catalog-1", "catalog-2", "gateway-1"):
        documents = [json.loads(t) for t in by_name[name] if t.startswith("{")]
        assert documents, name
        assert {d["service"] for d in documents} == {name.rpartition("-")[0]}
        assert all({"ts", "level", "msg"} <= d.keys() for d in documents)
        # The log files kept the same lines (the recent ones: they are bounded).
        kept = set(last_lines(system.data_dir / "logs", name, 0))
        assert set(by_name[name][-200:]) <= kept


def test_status_sees_every_process_with_its_replicas(system: System) -> None:
    command = [sys.executable, "-m", "mercato", "status", "--json"]
    command += ["--data-dir", str(system.data_dir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MERCATO_")}
    deadline = time.monotonic() + 60  # an earlier test may have killed a process
    while True:
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=120, check=False
        )
        if result.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert result.returncode == 0, result.stdout + result.stderr
    names = [p["name"] for p in json.loads(result.stdout)["processes"]]
    expected = ["nats", "auth-1", "users-1", "catalog-1", "catalog-2", "payments-1"]
    expected += ["logs-1", "shipping-1", "notifications-1", "orders-1", "web-1", "gateway-1"]
    expected += ["mail"]
    assert names == expected + (["prometheus"] if system.observed else [])
