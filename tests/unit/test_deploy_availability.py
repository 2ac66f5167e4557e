"""The Kubernetes kit keeps Mercato available: replicas, budgets, spread, scaling, broker.

Read from what `kubectl kustomize` renders for the base and both overlays: every
service runs two replicas or more, spread over nodes by a required constraint, with a
PodDisruptionBudget that lets a drain take one pod at a time, requests and limits; the
gateway and the catalog have an autoscaler; each service with a database has a
migration Job that no Service sends requests to; the NATS StatefulSet runs three nodes
with a volume each, routes to all three and R3 streams; the HTTPRoute sends the shop's
host to the gateway's public port; and the database connections every process may
open stay under the server's limit.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from mercato.chassis.config import load_settings
from mercato.gateway.settings import GatewaySettings
from mercato.launcher.topology import SERVICES
from tests.support.deploy import SERVICE_NAMES, setting_names
from tests.support.k8s_render import OVERLAYS, named, objects
from tests.support.netpol import selects

DATABASE_SERVICES = sorted(
    svc.name
    for svc in SERVICES
    if svc.wiring().spec.uses_database and svc.wiring().spec.migrations is not None
)
# PostgreSQL's max_connections each variant assumes: the default 100, and the larger
# server the production overlay says it needs (overlays/production/config.yaml).
MAX_CONNECTIONS = {"base": 100, "overlays/small": 100, "overlays/production": 500}
RESERVED_CONNECTIONS = 10  # psql sessions, monitoring, a migration by hand


def _pod_labels(workload: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def _deployment(variant: str, name: str) -> dict[str, Any]:
    return named(variant, "Deployment", name)


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any]
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    return container


def _quantity(value: str | int) -> float:
    """A Kubernetes quantity (`250m`, `1`, `256Mi`, `10Gi`) as a number."""
    units = {"m": 1e-3, "": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6}
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value))
    assert match, value
    return float(match[1]) * units[match[2]]


@pytest.mark.parametrize("variant", OVERLAYS)
@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_service_runs_two_replicas_or_more_and_updates_without_loss(
    variant: str, name: str
) -> None:
    spec = _deployment(variant, name)["spec"]
    assert spec["replicas"] >= 2
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("variant", OVERLAYS)
@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_service_has_a_disruption_budget_of_its_own(variant: str, name: str) -> None:
    deployment = _deployment(variant, name)
    budgets = [
        pdb
        for pdb in objects(variant, "PodDisruptionBudget")
        if selects(pdb["spec"]["selector"], _pod_labels(deployment))
    ]
    (budget,) = budgets
    assert budget["spec"]["maxUnavailable"] == 1  # one pod at a time, at any scale
    others = [d for d in objects(variant, "Deployment") if d is not deployment]
    assert not any(selects(budget["spec"]["selector"], _pod_labels(d)) for d in others)


@pytest.mark.parametrize("variant", OVERLAYS)
@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_replicas_must_land_on_different_nodes(variant: str, name: str) -> None:
    deployment = _deployment(variant, name)
    constraints = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    by_key = {c["topologyKey"]: c for c in constraints}
    node = by_key["kubernetes.io/hostname"]
    assert (node["maxSkew"], node["whenUnsatisfiable"]) == (1, "DoNotSchedule")
    # A tainted node (a control plane) counted as an empty domain would block the spread.
    assert node["nodeTaintsPolicy"] == "Honor"
    assert by_key["topology.kubernetes.io/zone"]["whenUnsatisfiable"] == "ScheduleAnyway"
    for constraint in constraints:
        assert selects(constraint["labelSelector"], _pod_labels(deployment))
        others = [d for d in objects(variant, "Deployment") if d is not deployment]
        assert not any(selects(constraint["labelSelector"], _pod_labels(d)) for d in others)
        assert constraint["matchLabelKeys"] == ["pod-template-hash"]


@pytest.mark.parametrize("variant", OVERLAYS)
def test_every_container_has_requests_within_limits(variant: str) -> None:
    workloads = [w for kind in ("Deployment", "StatefulSet", "Job") for w in objects(variant, kind)]
    assert len(workloads) >= len(SERVICE_NAMES) + len(DATABASE_SERVICES)
    for workload in workloads:
        for container in workload["spec"]["template"]["spec"]["containers"]:
            resources = container["resources"]
            for resource in ("cpu", "memory"):
                request = _quantity(resources["requests"][resource])
                limit = _quantity(resources["limits"][resource])
                assert 0 < request <= limit, (workload["metadata"]["name"], resource)


@pytest.mark.parametrize("variant", OVERLAYS)
def test_the_gateway_and_the_catalog_scale_on_cpu(variant: str) -> None:
    autoscalers = {
        h["spec"]["scaleTargetRef"]["name"]: h for h in objects(variant, "HorizontalPodAutoscaler")
    }
    assert sorted(autoscalers) == ["catalog", "gateway"]
    for name, hpa in autoscalers.items():
        spec = hpa["spec"]
        assert spec["scaleTargetRef"]["kind"] == "Deployment"
        assert 2 <= spec["minReplicas"] < spec["maxReplicas"]
        assert spec["minReplicas"] == _deployment(variant, name)["spec"]["replicas"]
        (metric,) = spec["metrics"]
        assert metric["resource"]["name"] == "cpu"
        # Utilization is a share of the request: there must be one.
        assert _container(_deployment(variant, name))["resources"]["requests"]["cpu"]


@pytest.mark.parametrize("variant", OVERLAYS)
@pytest.mark.parametrize("name", DATABASE_SERVICES)
def test_each_database_is_migrated_by_a_job_no_service_sends_requests_to(
    variant: str, name: str
) -> None:
    job = named(variant, "Job", f"{name}-migrate")
    container = _container(job)
    assert container["args"] == ["migrate", name]
    assert container["image"] == _container(_deployment(variant, name))["image"]
    names = [env["name"] for env in container["env"]]
    assert f"MERCATO_{name.upper()}_DATABASE_URL" in names
    assert [v for v in names if v not in setting_names(name)] == []
    # Only secrets its Deployment has too (a Job is no wider door than the service).
    service_secrets = {
        e["name"] for e in _container(_deployment(variant, name))["env"] if "valueFrom" in e
    }
    assert set(names) <= service_secrets
    labels = _pod_labels(job)
    for kind in ("Service", "PodDisruptionBudget"):
        for obj in objects(variant, kind):
            selector = obj["spec"]["selector"]
            selector = selector if "matchLabels" in selector else {"matchLabels": selector}
            assert not selects(selector, labels), f"{kind} {obj['metadata']['name']}"
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"
    assert job["spec"]["ttlSecondsAfterFinished"] > 0


def test_no_job_for_a_service_without_a_database() -> None:
    jobs = sorted(j["metadata"]["name"] for j in objects("base", "Job"))
    assert jobs == [f"{name}-migrate" for name in DATABASE_SERVICES]


@pytest.mark.parametrize("variant", ["base+nats", "overlays/production", "overlays/small"])
def test_the_broker_is_three_nodes_with_volumes_routes_and_r3_streams(variant: str) -> None:
    statefulset = named(variant, "StatefulSet", "nats")
    spec = statefulset["spec"]
    assert spec["replicas"] == 3
    (claim,) = spec["volumeClaimTemplates"]
    assert _quantity(claim["spec"]["resources"]["requests"]["storage"]) >= 2**30
    config = named(variant, "ConfigMap", "nats-config")["data"]["nats.conf"]
    store = re.search(r"jetstream \{[^}]*store_dir: (\S+)", config)
    assert store
    mounts = {m["name"]: m["mountPath"] for m in _container(statefulset)["volumeMounts"]}
    assert mounts[claim["metadata"]["name"]] == store[1]
    # Every node routes to all three by their stable names under the headless Service.
    routes = re.search(r"routes: \[([^\]]*)\]", config)
    assert routes
    headless = named(variant, "Service", spec["serviceName"])
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    (cluster_port,) = [p["port"] for p in headless["spec"]["ports"] if p["name"] == "cluster"]
    wanted = [f"nats://nats-{i}.{spec['serviceName']}:{cluster_port}" for i in range(3)]
    assert routes[1].split() == wanted
    (node_spread,) = [
        c
        for c in spec["template"]["spec"]["topologySpreadConstraints"]
        if c["topologyKey"] == "kubernetes.io/hostname"
    ]
    assert (node_spread["maxSkew"], node_spread["whenUnsatisfiable"]) == (1, "DoNotSchedule")
    assert selects(node_spread["labelSelector"], _pod_labels(statefulset))
    budget = named(variant, "PodDisruptionBudget", "nats")
    assert budget["spec"]["maxUnavailable"] == 1  # a quorum of two stays
    replicas = named(variant, "ConfigMap", "mercato-config")["data"]["MERCATO_EVENT_REPLICAS"]
    assert replicas == str(spec["replicas"])


@pytest.mark.parametrize("variant", ["base+nats", "overlays/production", "overlays/small"])
def test_every_broker_url_points_at_the_brokers_client_service(variant: str) -> None:
    (secret,) = [
        s for s in objects(variant, "Secret") if s["metadata"]["name"] == "mercato-secrets"
    ]
    client = named(variant, "Service", "nats")
    (port,) = [p["port"] for p in client["spec"]["ports"] if p["name"] == "client"]
    urls = {k: v for k, v in secret["stringData"].items() if k.endswith("BROKER_URL")}
    assert urls
    for url in urls.values():
        for server in url.split(","):
            assert server.rpartition("@")[2] == f"nats:{port}"


@pytest.mark.parametrize("variant", OVERLAYS)
def test_the_route_sends_the_shop_to_the_gateways_public_port_only(variant: str) -> None:
    (route,) = objects(variant, "HTTPRoute")
    (rule,) = route["spec"]["rules"]
    (match,) = rule["matches"]
    assert match["path"] == {"type": "PathPrefix", "value": "/"}
    (backend,) = rule["backendRefs"]
    service = named(variant, "Service", "gateway")
    (port,) = service["spec"]["ports"]  # the gateway's Service has its public port alone
    assert (backend["kind"], backend["name"], backend["port"]) == (
        "Service",
        "gateway",
        port["port"],
    )
    gateway = _container(_deployment(variant, "gateway"))
    (target,) = [p for p in gateway["ports"] if p["name"] == port["targetPort"]]
    env = {e["name"]: e.get("value") for e in gateway["env"]}
    assert str(target["containerPort"]) == env["MERCATO_GATEWAY_PORT"]
    assert str(target["containerPort"]) != env["MERCATO_GATEWAY_OPERATOR_PORT"]
    # The operator paths stay on the operator port, even for an administrator's token.
    config = named(variant, "ConfigMap", "mercato-config")["data"]
    variable = "MERCATO_GATEWAY_OPERATOR_ADMINS"
    settings = load_settings(GatewaySettings, "gateway", {variable: config[variable]})
    assert settings.operator_admins is False
    (ingress,) = objects("base+ingress", "Ingress")
    assert route["spec"]["hostnames"] == [rule["host"] for rule in ingress["spec"]["rules"]]


@pytest.mark.parametrize("variant", OVERLAYS)
def test_the_database_connections_stay_under_max_connections(variant: str) -> None:
    """At the autoscalers' maximum, plus the pod a rolling update adds, plus the Jobs."""
    config = named(variant, "ConfigMap", "mercato-config")["data"]
    pool = int(config["MERCATO_DATABASE_POOL_SIZE"])
    ceilings = {
        h["spec"]["scaleTargetRef"]["name"]: h["spec"]["maxReplicas"]
        for h in objects(variant, "HorizontalPodAutoscaler")
    }
    connections = 0
    for name in DATABASE_SERVICES:
        deployment = _deployment(variant, name)
        spec = deployment["spec"]
        top = max(spec["replicas"], ceilings.get(name, 0))
        env = {e["name"]: e.get("value") for e in _container(deployment)["env"]}
        own = env.get(f"MERCATO_{name.upper()}_DATABASE_POOL_SIZE")  # a service's own size
        processes = top + spec["strategy"]["rollingUpdate"]["maxSurge"]
        connections += processes * (int(own) if own else pool)
    jobs = len(objects(variant, "Job"))  # a migration holds one connection
    budget = MAX_CONNECTIONS[variant] - RESERVED_CONNECTIONS
    assert connections + jobs <= budget, f"{connections} connections + {jobs}"
