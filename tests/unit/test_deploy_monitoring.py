"""Unit tests of the Kubernetes monitoring component (`deploy/k8s/components/monitoring`).

Read as the other manifests are (nothing runs Kubernetes here), with the labels the
kustomization adds: the ServiceMonitor selects the Service of every service but the
gateway, on a port each has; the PodMonitor selects the gateway's pods, on the
container port its metrics are served on; both name a job after the service, as the
rules and dashboards expect; and the PrometheusRule holds exactly the rule file's
groups.
"""

from __future__ import annotations

from typing import Any

from tests.support.deploy import BASE, SERVICE_NAMES, deployments, documents, k8s_objects
from tests.support.observability import MONITORING, prometheus_rule, rule_groups

API = "monitoring.coreos.com/v1"


def _kustomization() -> dict[str, Any]:
    return documents(BASE / "kustomization.yaml")[0]


def _added_labels() -> dict[str, str]:
    """The labels the kustomization adds to every object (and pod template)."""
    added: dict[str, str] = {}
    for entry in _kustomization()["labels"]:
        assert entry.get("includeTemplates") is True
        added.update(entry["pairs"])
    return added


def _component() -> dict[str, dict[str, Any]]:
    """The component's objects, by kind."""
    component = documents(MONITORING / "kustomization.yaml")[0]
    assert component["kind"] == "Component"
    objects = [doc for name in component["resources"] for doc in documents(MONITORING / name)]
    # Besides the operator's kinds, the NetworkPolicy that lets Prometheus in.
    assert all(doc["apiVersion"] == API for doc in objects if doc["kind"] != "NetworkPolicy")
    return {doc["kind"]: doc for doc in objects}


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    assert set(selector) == {"matchLabels"}
    wanted: dict[str, str] = selector["matchLabels"]
    return wanted.items() <= labels.items()


def test_the_component_is_offered_in_the_kustomization() -> None:
    assert sorted(_component()) == [
        "NetworkPolicy",
        "PodMonitor",
        "PrometheusRule",
        "ServiceMonitor",
    ]
    assert "#   - ../components/monitoring" in (BASE / "kustomization.yaml").read_text()


def test_the_service_monitor_scrapes_every_service_but_the_gateway() -> None:
    monitor = _component()["ServiceMonitor"]["spec"]
    (endpoint,) = monitor["endpoints"]
    selected = {}
    for service in k8s_objects("Service"):
        labels = {**service["metadata"]["labels"], **_added_labels()}
        if _matches(monitor["selector"], labels):
            ports = [port["name"] for port in service["spec"]["ports"]]
            assert endpoint["port"] in ports, service["metadata"]["name"]
            selected[service["metadata"]["name"]] = labels[monitor["jobLabel"]]
    others = [name for name in SERVICE_NAMES if name != "gateway"]
    assert selected == {name: name for name in others}  # job = the service's name
    assert endpoint["path"] == "/metrics"
    assert endpoint["honorLabels"] is True  # the metrics' own `service` label stays


def test_the_pod_monitor_scrapes_the_gateway_on_its_operator_port() -> None:
    monitor = _component()["PodMonitor"]["spec"]
    (endpoint,) = monitor["podMetricsEndpoints"]
    selected = {}
    for name, entry in deployments().items():
        template = entry["deployment"]["spec"]["template"]
        labels = {**template["metadata"]["labels"], **_added_labels()}
        if _matches(monitor["selector"], labels):
            selected[name] = labels[monitor["jobLabel"]]
    assert selected == {"gateway": "gateway"}
    gateway = deployments()["gateway"]["container"]
    (port,) = [p for p in gateway["ports"] if p["name"] == endpoint["port"]]
    env = {e["name"]: e.get("value") for e in gateway["env"]}
    assert str(port["containerPort"]) == env["MERCATO_GATEWAY_OPERATOR_PORT"]
    assert endpoint["path"] == "/metrics"
    assert endpoint["honorLabels"] is True


def test_the_prometheus_rule_holds_the_rule_file() -> None:
    rule = _component()["PrometheusRule"]
    assert rule["spec"]["groups"] == rule_groups(), (
        "run `.venv/bin/python -m tests.support.observability` after changing the rules"
    )
    assert rule == prometheus_rule()
