"""`mercato up --observe`: a Prometheus beside the system, scraping every process.

The Prometheus is the machine's own (`prometheus` on the PATH, e.g. Debian's
`prometheus` package): `mercato up --observe` refuses to start without it, in one
line (exit 2). It listens on 127.0.0.1:(P + 290), keeps its data in
`<data_dir>/prometheus/data` and reads `<data_dir>/prometheus/prometheus.yml`, which
the launcher writes at every start for the ports in use (`scrape_config`):

- one job per service, named after it (`job="orders"`), as the Kubernetes monitors and
  the compose configuration name theirs, so the alert rules and dashboards work
  on each; a target per instance, labelled with the instance's name
  (`instance="catalog-2"`); the gateway on its operator port, where its `/metrics` is;
- with `--tls`, https with the development CA, presenting the launcher's client
  certificate (services require one);
- the alert rules of `deploy/observability/prometheus/rules` when the package runs from
  a checkout that has them (an installed wheel has no `deploy/`: no rules then).

`deploy/observability/prometheus/mercato-up.yml` is this configuration for the
default port, for a Prometheus started by hand (a unit test keeps it equal).
Prometheus starts after the services are ready and is stopped first.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from functools import partial
from pathlib import Path

from mercato.chassis.security.private_files import private_directory
from mercato.launcher.certificates import LAUNCHER
from mercato.launcher.errors import LauncherError
from mercato.launcher.probe import http_ok
from mercato.launcher.supervisor import ProcessSpec
from mercato.launcher.topology import HOST, SERVICES, Instance, Layout

__all__ = [
    "DASHBOARDS",
    "NAME",
    "RULES",
    "checkout_rules",
    "command",
    "describe",
    "prometheus_binary",
    "prometheus_spec",
    "scrape_config",
]

NAME = "prometheus"
OBSERVER_TIER = 10  # above the gateway's stage: started last, stopped first
SCRAPE_INTERVAL = "5s"
RETENTION = "7d"
# The repository's observability files, when the package runs from a checkout.
_OBSERVABILITY = Path(__file__).resolve().parents[3] / "deploy" / "observability"
RULES = _OBSERVABILITY / "prometheus" / "rules"
DASHBOARDS = _OBSERVABILITY / "grafana" / "dashboards"
RULE_FILES = "*.rules.yml"


def prometheus_binary() -> str:
    """The `prometheus` executable on the PATH; a one-line LauncherError when there is none."""
    found = shutil.which(NAME)
    if found is None:
        raise LauncherError(
            "--observe needs Prometheus, which is not installed (no `prometheus` on the PATH);"
            " install it (Debian: apt-get install prometheus) or leave out --observe"
        )
    return found


def checkout_rules() -> list[str]:
    """The glob of the alert rules in the checkout, if it has any (else none)."""
    return [str(RULES / RULE_FILES)] if any(RULES.glob(RULE_FILES)) else []


def _target(layout: Layout, instance: Instance) -> str:
    port = layout.operator_port(instance) if instance.service.is_gateway else instance.port
    return f"{HOST}:{port}"


def _tls_lines(layout: Layout) -> list[str]:
    files = layout.tls_files
    if files is None:
        return []
    return [
        "    tls_config:",
        f"      ca_file: {json.dumps(str(files.ca))}",
        f"      cert_file: {json.dumps(str(files.certificate(LAUNCHER)))}",
        f"      key_file: {json.dumps(str(files.key(LAUNCHER)))}",
    ]


def scrape_config(
    layout: Layout, *, rule_files: Sequence[str], interval: str = SCRAPE_INTERVAL
) -> str:
    """The Prometheus configuration (YAML) scraping every process of `layout`."""
    tls = " with TLS" if layout.tls else ""
    lines = [
        f"# Prometheus for `mercato up` on port {layout.port}{tls}: a job per service, a target",
        "# per instance. From mercato.launcher.observe.scrape_config: `mercato up --observe`",
        "# writes one for the ports in use into <data_dir>/prometheus/ at every start.",
        "global:",
        f"  scrape_interval: {interval}",
        f"  evaluation_interval: {interval}",
    ]
    lines += ["rule_files:"] + [f"  - {json.dumps(path)}" for path in rule_files]
    if not rule_files:
        lines[-1] += " []"
    lines.append("scrape_configs:")
    for svc in SERVICES:
        lines += [
            f"  - job_name: {json.dumps(svc.name)}",
            f"    scheme: {layout.scheme}",
            "    metrics_path: /metrics",
            *_tls_lines(layout),
            "    static_configs:",
        ]
        for instance in layout.instances(svc):
            lines += [
                f"      - targets: [{json.dumps(_target(layout, instance))}]",
                f"        labels: {{instance: {json.dumps(instance.name)}}}",
            ]
    return "\n".join(lines) + "\n"


def command(layout: Layout, binary: str, config: Path) -> list[str]:
    """The command line of the Prometheus for `layout`, reading `config`."""
    return [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={layout.data_dir / NAME / 'data'}",
        f"--storage.tsdb.retention.time={RETENTION}",
        f"--web.listen-address={HOST}:{layout.prometheus_port}",
        "--log.level=warn",
    ]


def prometheus_spec(layout: Layout, binary: str) -> ProcessSpec:
    """Write the configuration for `layout` and say how to run its Prometheus."""
    directory = layout.data_dir / NAME
    private_directory(directory)
    config = directory / "prometheus.yml"
    temporary = config.with_suffix(".tmp")
    temporary.write_text(scrape_config(layout, rule_files=checkout_rules()))
    os.replace(temporary, config)
    return ProcessSpec(
        name=NAME,
        argv=command(layout, binary, config),
        env=dict(os.environ),
        probe=partial(http_ok, HOST, layout.prometheus_port, "/-/ready"),
        tier=OBSERVER_TIER,
        port=layout.prometheus_port,
        health=f"http://{HOST}:{layout.prometheus_port}/-/ready",
    )


def describe(layout: Layout) -> list[tuple[str, str]]:
    """What `mercato up` prints about the Prometheus: (what, where) pairs."""
    url = f"http://{HOST}:{layout.prometheus_port}"
    rules = f"alerts {url}/alerts" if checkout_rules() else f"no alert rules: {RULES} is absent"
    found = [("prometheus", f"{url}  (targets {url}/targets, {rules})")]
    if DASHBOARDS.is_dir():
        found.append(("dashboards", f"{DASHBOARDS} (Grafana, data source {url})"))
    return found
