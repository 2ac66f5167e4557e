"""The Kubernetes NetworkPolicies against who really calls whom.

The call graph comes from the code: the launcher's topology gives every process the
URLs of the services it calls (`Layout.env`), so an edge is a URL in a service's
environment that points at another service's port. The kit's configuration (the
ConfigMap's variables a service reads, and its container's own) must give each
service exactly those URLs, by Service name; and the rendered NetworkPolicies, as
`tests.support.netpol` evaluates them, must let through exactly those calls between
the services, the public door (the gateway's `http` port) from anywhere, and from
each service its database, the broker and Redis if it uses them and DNS, nothing
else. A new call in the code fails here until the kit allows it; a policy that allows
more than the code needs fails too.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import pytest

from mercato.launcher.topology import SERVICES, Layout, service
from tests.support.deploy import SERVICE_NAMES, setting_names
from tests.support.k8s_render import named, objects
from tests.support.netpol import Endpoint, Network, Port, selects

NAMESPACE = "mercato"
Call = tuple[str, str, str]  # caller, callee, the callee's port name (http | operator)

# What the launcher wires and the Kubernetes kit leaves out, and why: the operations
# console's system page reads the gateway's operator port (its metrics) when
# MERCATO_WEB_GATEWAY_OPERATOR_URL names it; on Kubernetes Prometheus scrapes it
# (components/monitoring) and no Service exposes that port, so it is not set.
NOT_ON_KUBERNETES: frozenset[Call] = frozenset({("web", "gateway", "operator")})

DATABASE, BROKER, REDIS, DNS, HTTPS = (
    Port(5432),
    Port(4222),
    Port(6379),
    Port(53, "UDP"),
    Port(443),
)
OUTSIDE = Endpoint(namespace=None)  # an address outside the cluster
KUBE_DNS = Endpoint("kube-system", {"k8s-app": "kube-dns"}, {"dns": 53})
PROMETHEUS = Endpoint("monitoring", {"app.kubernetes.io/name": "prometheus"})


# URLs a service writes into what it sends (the shop in notifications' mails), never calls.
LINKS_ONLY = frozenset({"MERCATO_SHOP_URL"})


@cache
def launcher_calls() -> frozenset[Call]:
    """Every call between services that the launcher's topology wires, self-calls aside."""
    layout = Layout()
    owner: dict[int, tuple[str, str]] = {}
    for instance in layout.all_instances():
        owner[instance.port] = (instance.service.name, "http")
    for instance in layout.instances(service("gateway")):
        owner[layout.operator_port(instance)] = ("gateway", "operator")
    calls = set()
    for svc in SERVICES:
        for name, value in layout.env(layout.instances(svc)[0]).items():
            if name in LINKS_ONLY:
                continue
            for port in re.findall(r"https?://127\.0\.0\.1:(\d+)", value):
                callee, port_name = owner[int(port)]
                if callee != svc.name:  # its own instances (auth's keys, the console)
                    calls.add((svc.name, callee, port_name))
    return frozenset(calls)


def _pods(variant: str) -> dict[str, Endpoint]:
    """Each Deployment's and StatefulSet's pods as an endpoint, by name."""
    pods = {}
    for kind in ("Deployment", "StatefulSet", "Job"):
        for workload in objects(variant, kind):
            template = workload["spec"]["template"]
            ports = {
                p["name"]: p["containerPort"]
                for c in template["spec"]["containers"]
                for p in c.get("ports", [])
            }
            pods[workload["metadata"]["name"]] = Endpoint(
                workload["metadata"]["namespace"], template["metadata"]["labels"], ports
            )
    return pods


def kubernetes_calls(variant: str = "base") -> frozenset[Call]:
    """The calls the kit configures: URLs `http://<Service>:<port>` each service reads."""
    (config,) = [
        c
        for c in objects(variant, "ConfigMap")
        if c["metadata"]["name"].startswith("mercato-config")
    ]
    services = {s["metadata"]["name"]: s for s in objects(variant, "Service")}
    calls = set()
    for deployment in objects(variant, "Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        name = container["args"][1]
        values = [v for k, v in config["data"].items() if k in setting_names(name)]
        values += [str(env.get("value", "")) for env in container["env"]]
        for value in values:
            # A service's own URL (MERCATO_AUTH_URL, read by auth too) is no call: auth
            # verifies tokens with its own key table.
            for host, port in re.findall(r"https?://([a-z0-9-]+):(\d+)", value):
                (target,) = [
                    p["targetPort"]
                    for p in services[host]["spec"]["ports"]
                    if p["port"] == int(port)
                ]
                callee = services[host]["spec"]["selector"]["app.kubernetes.io/name"]
                if callee != name:
                    calls.add((name, callee, target))
    return frozenset(calls)


def test_the_kit_wires_the_calls_the_code_makes() -> None:
    assert ("orders", "catalog", "http") in launcher_calls()  # the derivation sees calls
    assert kubernetes_calls() == launcher_calls() - NOT_ON_KUBERNETES


def _uses(variant: str, name: str, variable: str) -> bool:
    """Whether the Deployment `name` is given `MERCATO_<NAME>_<variable>` or the shared one."""
    (container,) = named(variant, "Deployment", name)["spec"]["template"]["spec"]["containers"]
    given = {env["name"] for env in container["env"]}
    return bool(given & {f"MERCATO_{name.upper()}_{variable}", f"MERCATO_{variable}"})


VARIANTS = ("base", "overlays/production", "overlays/small")


@pytest.mark.parametrize("variant", VARIANTS)
def test_between_services_the_policies_allow_exactly_the_calls(variant: str) -> None:
    network = Network(objects(variant, "NetworkPolicy"), NAMESPACE)
    pods = _pods(variant)
    allowed = set()
    for caller in SERVICE_NAMES:
        for callee in SERVICE_NAMES:
            for port_name, number in pods[callee].ports.items():
                if network.allows(pods[caller], pods[callee], Port(number)):
                    allowed.add((caller, callee, port_name))
    # Replicas of a service do not call each other either.
    assert allowed == set(kubernetes_calls(variant))


@pytest.mark.parametrize("variant", VARIANTS)
def test_from_outside_only_the_gateways_public_port_answers(variant: str) -> None:
    network = Network(objects(variant, "NetworkPolicy"), NAMESPACE)
    pods = _pods(variant)
    stranger = Endpoint("elsewhere", {"app": "anything"})
    open_ports = {
        (name, port_name)
        for name, pod in pods.items()
        for port_name, number in pod.ports.items()
        for source in (OUTSIDE, stranger, PROMETHEUS)
        if network.allows(source, pod, Port(number))
    }
    assert open_ports == {("gateway", "http")}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_each_service_reaches_its_database_broker_redis_and_dns_only(
    variant: str, name: str
) -> None:
    network = Network(objects(variant, "NetworkPolicy"), NAMESPACE)
    pod = _pods(variant)[name]
    reached = {
        what
        for what, port in (
            ("database", DATABASE),
            ("broker", BROKER),
            ("redis", REDIS),
            ("https", HTTPS),
        )
        if network.allows(pod, OUTSIDE, port)
    }
    wanted = {
        what
        for what, variable in (
            ("database", "DATABASE_URL"),
            ("broker", "BROKER_URL"),
            ("redis", "REDIS_URL"),
        )
        if _uses(variant, name, variable)
    }
    assert reached == wanted
    assert network.allows(pod, KUBE_DNS, DNS)
    assert not network.allows(pod, Endpoint("kube-system", {"k8s-app": "other"}), DNS)


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_migration_jobs_reach_their_database_and_nothing_reaches_them(variant: str) -> None:
    network = Network(objects(variant, "NetworkPolicy"), NAMESPACE)
    pods = _pods(variant)
    jobs = [pods[f"{name}-migrate"] for name in SERVICE_NAMES if name != "gateway"]
    for job in jobs:
        assert network.allows(job, OUTSIDE, DATABASE)
        assert not network.allows(job, OUTSIDE, HTTPS)
        assert not any(network.allows(job, pods[s], Port(8000)) for s in SERVICE_NAMES)
        assert not any(network.allows(pods[s], job, Port(8000)) for s in SERVICE_NAMES)


@pytest.mark.parametrize("variant", ["base+nats", "overlays/production", "overlays/small"])
def test_the_brokers_nodes_take_the_services_that_use_it_and_each_other(variant: str) -> None:
    network = Network(objects(variant, "NetworkPolicy"), NAMESPACE)
    pods = _pods(variant)
    nats = pods["nats"]
    clients = {
        name
        for name in SERVICE_NAMES
        if network.allows(pods[name], nats, Port(nats.ports["client"]))
    }
    assert clients == {name for name in SERVICE_NAMES if _uses(variant, name, "BROKER_URL")}
    assert network.allows(nats, nats, Port(nats.ports["cluster"]))  # the cluster routes
    assert not network.allows(pods["web"], nats, Port(nats.ports["cluster"]))
    assert not network.allows(nats, OUTSIDE, HTTPS)


def test_the_monitoring_component_lets_prometheus_scrape_and_no_one_else() -> None:
    network = Network(objects("base+monitoring", "NetworkPolicy"), NAMESPACE)
    pods = _pods("base+monitoring")
    for name in SERVICE_NAMES:
        pod = pods[name]
        scraped = "operator" if name == "gateway" else "http"
        assert network.allows(PROMETHEUS, pod, Port(pod.ports[scraped]))
        assert not network.allows(Endpoint("elsewhere", {}), pod, Port(pod.ports[scraped]))
    gateway = pods["gateway"]
    assert not network.allows(OUTSIDE, gateway, Port(gateway.ports["operator"]))


def test_every_policy_selects_pods_that_exist() -> None:
    """A policy whose selector matches no pod protects nothing: a renamed label would do that."""
    pods = _pods("overlays/production")
    for policy in objects("overlays/production", "NetworkPolicy"):
        selector: dict[str, Any] = policy["spec"]["podSelector"]
        assert any(selects(selector, pod.labels) for pod in pods.values()), policy["metadata"][
            "name"
        ]
