"""`mercato up --observe`: its option, its port, and its one-line refusal without Prometheus.

That the Prometheus it starts scrapes every process of a running system, with the
alert rules, is the e2e level's check (`tests/e2e/test_observe.py`); the
configuration it writes is checked by promtool in `test_observability_rules.py`.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mercato.launcher.errors import LauncherError
from mercato.launcher.observe import RULES, checkout_rules, prometheus_spec, scrape_config
from mercato.launcher.options import build_layout
from mercato.launcher.ports import check_ports
from mercato.launcher.topology import Layout


def mercato_without_prometheus(
    *args: str, tmp_path: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`mercato ARGS` with a PATH on which there is no `prometheus` (nor anything else)."""
    empty = tmp_path / "bin"
    empty.mkdir()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MERCATO_")}
    environ.update(env or {}, PATH=str(empty))
    return subprocess.run(
        [sys.executable, "-m", "mercato", *args],
        capture_output=True,
        text=True,
        env=environ,
        timeout=60,
        check=False,
    )


NOT_INSTALLED = (
    "mercato: --observe needs Prometheus, which is not installed (no `prometheus` on the"
    " PATH); install it (Debian: apt-get install prometheus) or leave out --observe"
)


def test_observe_without_prometheus_exits_2_in_one_line_before_starting(tmp_path: Path) -> None:
    data = tmp_path / "data"

    result = mercato_without_prometheus(
        "up", "--observe", "--port", "31700", "--data-dir", str(data), tmp_path=tmp_path
    )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [NOT_INSTALLED]
    assert result.stdout == ""
    assert not data.exists()  # nothing was started, nor made


def test_the_variable_asks_for_prometheus_as_the_flag_does(tmp_path: Path) -> None:
    result = mercato_without_prometheus(
        "up", "--port", "31700", tmp_path=tmp_path, env={"MERCATO_OBSERVE": "yes"}
    )

    assert result.returncode == 2
    assert result.stderr.splitlines() == [NOT_INSTALLED]


def test_observe_is_off_unless_asked(tmp_path: Path) -> None:
    assert not build_layout(environ={}).observe
    assert build_layout(observe=True, environ={}).observe
    assert build_layout(environ={"MERCATO_OBSERVE": "true"}).observe
    with pytest.raises(LauncherError, match=r"^MERCATO_OBSERVE: must be true or false, got 'x'$"):
        build_layout(environ={"MERCATO_OBSERVE": "x"})


def test_prometheus_listens_on_p_plus_290_which_must_be_free() -> None:
    assert Layout(port=8000, observe=True).ports()[8290] == "prometheus"
    assert 8290 not in Layout(port=8000).ports()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        base = busy.getsockname()[1] - 290
        with pytest.raises(LauncherError, match=rf"^port {base + 290} \(for prometheus\) is"):
            check_ports(Layout(port=base, observe=True).ports())


def test_with_observe_the_highest_base_port_leaves_room_for_prometheus() -> None:
    with pytest.raises(LauncherError, match=r"^--port: must be between 1 and 65245, got 65250$"):
        build_layout(port=65250, observe=True, environ={})
    assert build_layout(port=65250, environ={}).port == 65250


@pytest.mark.parametrize("port", [9090, 9100])
def test_the_ports_of_a_machine_s_prometheus_are_refused(port: int) -> None:
    with pytest.raises(LauncherError, match=f"^port {port} \\(gateway-1\\) is the standard"):
        check_ports({port: "gateway-1"})


def test_the_launcher_writes_the_configuration_for_its_ports_with_the_rules(
    tmp_path: Path,
) -> None:
    layout = Layout(port=21000, data_dir=tmp_path, replicas={"logs": 2}, observe=True)

    spec = prometheus_spec(layout, "/usr/bin/prometheus")

    config = tmp_path / "prometheus" / "prometheus.yml"
    assert config.read_text() == scrape_config(layout, rule_files=checkout_rules())
    assert checkout_rules() == [str(RULES / "*.rules.yml")]  # this is a checkout
    assert yaml.safe_load(config.read_text())["rule_files"] == checkout_rules()
    assert (tmp_path / "prometheus").stat().st_mode & 0o077 == 0
    assert spec.argv[0] == "/usr/bin/prometheus"
    assert f"--config.file={config}" in spec.argv
    assert "--web.listen-address=127.0.0.1:21290" in spec.argv
    assert f"--storage.tsdb.path={tmp_path / 'prometheus' / 'data'}" in spec.argv
