"""The alert rules and the scrape configurations, checked by the real promtool.

`promtool check rules` and `check config` parse them as Prometheus will; `promtool test
rules` runs the unit tests of every alert on synthetic series. Beside promtool: every
alert has a case that fires and one that stays quiet, a severity, a summary, a
description and a runbook whose section exists in docs/observability.md; the
configuration for `mercato up` in the repository is what the launcher writes; every
configuration scrapes every service under a job of its name, at the port where its
`/metrics` is. Without promtool (Debian's `prometheus` package) its tests skip, and
fail under MERCATO_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from mercato.launcher.certificates import development_certificates
from mercato.launcher.observe import scrape_config
from mercato.launcher.topology import SERVICES, Layout
from tests.support.deploy import SERVICE_NAMES, compose_services
from tests.support.observability import PROMETHEUS, RULE_TESTS, RULES, RUNBOOKS, alerts, rule_tests
from tests.support.servers import require_program

CONFIGS = ["compose.yml", "mercato-up.yml"]


def promtool(*args: str, cwd: Path = PROMETHEUS) -> str:
    """Run promtool; its output, after asserting that it succeeded."""
    binary = require_program("promtool", "prometheus")
    done = subprocess.run(
        [binary, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_the_rules_pass_promtool_check_rules() -> None:
    out = promtool("check", "rules", str(RULES))
    assert f"SUCCESS: {sum(1 for _ in _rules())} rules found" in out


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_alert_passes_its_promtool_unit_tests() -> None:
    out = promtool("test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert "SUCCESS" in out


def _cases() -> dict[str, list[bool]]:
    """For each alert, whether each of its test cases expects it to fire."""
    found: dict[str, list[bool]] = {}
    for test in rule_tests():
        for case in test["alert_rule_test"]:
            found.setdefault(case["alertname"], []).append(bool(case["exp_alerts"]))
    return found


def test_every_alert_has_a_case_that_fires_and_one_that_stays_quiet() -> None:
    cases = _cases()
    assert sorted(cases) == sorted(alerts())
    for name, fires in cases.items():
        assert True in fires, f"{name} is never expected to fire"
        assert False in fires, f"{name} is never expected to stay quiet"


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of a document's headings."""
    headings = re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


@pytest.mark.parametrize("name", sorted(alerts()))
def test_every_alert_says_what_happened_and_links_its_runbook(name: str) -> None:
    rule = alerts()[name]
    assert rule["labels"]["severity"] in ("critical", "warning")
    annotations = rule["annotations"]
    assert sorted(annotations) == ["description", "runbook", "summary"]
    document, _, anchor = annotations["runbook"].partition("#")
    assert document == "docs/observability.md"
    assert anchor == name.lower()
    assert anchor in _anchors(RUNBOOKS.read_text()), f"no section {name} in {document}"


def test_the_target_down_alert_watches_every_service() -> None:
    expr = alerts()["MercatoTargetDown"]["expr"]
    (jobs,) = re.findall(r'job=~"([^"]+)"', expr)
    assert sorted(jobs.split("|")) == SERVICE_NAMES


@pytest.mark.parametrize("name", CONFIGS)
def test_the_scrape_configurations_pass_promtool_check_config(name: str) -> None:
    out = promtool("check", "config", name)
    assert "SUCCESS: 1 rule files found" in out


def test_the_configuration_for_mercato_up_is_the_one_the_launcher_writes() -> None:
    written = scrape_config(Layout(), rule_files=["rules/*.rules.yml"])
    assert (PROMETHEUS / "mercato-up.yml").read_text() == written


def _targets(config: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    """For each job, its (target, instance label) pairs."""
    return {
        job["job_name"]: [
            (target, group.get("labels", {}).get("instance", ""))
            for group in job["static_configs"]
            for target in group["targets"]
        ]
        for job in config["scrape_configs"]
    }


def test_the_launcher_scrapes_every_instance_where_its_metrics_are(tmp_path: Path) -> None:
    layout = Layout(port=20000, data_dir=tmp_path, replicas={"catalog": 3})
    config = yaml.safe_load(scrape_config(layout, rule_files=[]))

    assert config["rule_files"] == []
    expected = {
        svc.name: [
            (f"127.0.0.1:{port}", inst.name)
            for inst in layout.instances(svc)
            for port in [layout.operator_port(inst) if svc.is_gateway else inst.port]
        ]
        for svc in SERVICES
    }
    assert _targets(config) == expected
    assert expected["gateway"] == [("127.0.0.1:20100", "gateway-1")]
    assert [i for _, i in expected["catalog"]] == ["catalog-1", "catalog-2", "catalog-3"]


def test_under_tls_the_launcher_scrapes_with_its_client_certificate(tmp_path: Path) -> None:
    layout = Layout(port=20000, data_dir=tmp_path, tls=True)
    files = development_certificates(tmp_path / "tls", ["launcher"])
    text = scrape_config(layout, rule_files=[])
    config = yaml.safe_load(text)

    for job in config["scrape_configs"]:
        assert job["scheme"] == "https"
        assert job["tls_config"] == {
            "ca_file": str(files.ca),
            "cert_file": str(files.certificate("launcher")),
            "key_file": str(files.key("launcher")),
        }
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    promtool("check", "config", str(path))  # the certificate files exist and are read


def test_compose_scrapes_every_service_where_its_metrics_are() -> None:
    config = yaml.safe_load((PROMETHEUS / "compose.yml").read_text())
    found = {
        job["job_name"]: [(d["names"], d["port"]) for d in job["dns_sd_configs"]]
        for job in config["scrape_configs"]
    }
    expected = {}
    for name, spec in compose_services().items():
        env = spec["environment"]
        port = env.get("MERCATO_GATEWAY_OPERATOR_PORT") or env[f"MERCATO_{name.upper()}_PORT"]
        expected[name] = [([name], int(port))]
    assert found == expected
