"""Unit tests of the deployment files in `deploy/`: they run the system the code defines.

Nothing runs Kubernetes or Docker here, so these read the files: every service of
the launcher's topology has a Deployment and a compose service; every `MERCATO_*`
variable they set is a setting of the service that receives it (a typo would be
ignored silently at start, as settings ignore unknown variables); every Secret key
a pod asks for exists; probes point at the health endpoints on the port the service
listens on; the gateway routes to every service and auth knows every service's
client; and compose's database connections stay under PostgreSQL's default
`max_connections` (the Kubernetes kit's, at its autoscalers' maximum, in
`test_deploy_availability`).
"""

from __future__ import annotations

import pytest

from mercato.chassis.config import env_names
from tests.support.deploy import (
    DEPLOY,
    SERVICE_NAMES,
    compose_services,
    configmap,
    deployments,
    documents,
    env_file,
    k8s_objects,
    setting_names,
)

POSTGRES_DEFAULT_MAX_CONNECTIONS = 100
POSTGRES_RESERVED = 10  # migrations by hand, psql sessions, monitoring


def test_kubernetes_and_compose_run_every_service() -> None:
    assert sorted(deployments()) == SERVICE_NAMES
    assert sorted(compose_services()) == SERVICE_NAMES
    assert not any("profiles" in spec for spec in compose_services().values())


def test_compose_starts_each_service_after_what_it_needs_is_healthy_or_started() -> None:
    for name, spec in compose_services().items():
        for needed, how in (spec.get("depends_on") or {}).items():
            # An entry without its condition (`shipping:` alone) breaks podman-compose.
            assert isinstance(how, dict), (name, needed)
            assert how["condition"] in ("service_healthy", "service_started"), (name, needed)


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_variable_a_pod_sets_is_a_setting_of_its_service(name: str) -> None:
    container = deployments()[name]["container"]
    names = [env["name"] for env in container["env"]]
    # A variable only there to be expanded into another one's value, as `$(NAME)`.
    values = " ".join(str(env.get("value", "")) for env in container["env"])
    helpers = {variable for variable in names if f"$({variable})" in values}
    assert [v for v in names if v not in setting_names(name) and v not in helpers] == []


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_variable_compose_sets_is_a_setting_of_its_service(name: str) -> None:
    environment = compose_services()[name]["environment"]
    assert [variable for variable in environment if variable not in setting_names(name)] == []


def test_every_shared_variable_is_read_by_some_service() -> None:
    """The ConfigMap reaches every pod; each of its keys must be someone's setting."""
    everyone = frozenset().union(*(setting_names(name) for name in SERVICE_NAMES))
    assert [key for key in configmap() if key not in everyone] == []


def test_every_secret_a_pod_asks_for_exists() -> None:
    (secret,) = k8s_objects("Secret")
    held = set(secret["stringData"])
    wanted = {
        env["valueFrom"]["secretKeyRef"]["key"]
        for entry in deployments().values()
        for env in entry["container"]["env"]
        if "secretKeyRef" in env.get("valueFrom", {})
    }
    assert wanted - held == set()


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_probes_ask_the_health_endpoints_on_the_port_the_service_listens_on(name: str) -> None:
    container = deployments()[name]["container"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    port, *operator = container["ports"]
    assert port["name"] == "http"
    assert str(port["containerPort"]) == env[env_names(name, "port")[0]]
    # The gateway's operator port (metrics, detailed health, docs) is its second.
    if name == "gateway":
        assert [p["name"] for p in operator] == ["operator"]
        assert str(operator[0]["containerPort"]) == env["MERCATO_GATEWAY_OPERATOR_PORT"]
    else:
        assert operator == []
    assert env[env_names(name, "host")[0]] == "0.0.0.0"
    paths = {
        probe: (container[probe]["httpGet"]["path"], container[probe]["httpGet"]["port"])
        for probe in ("startupProbe", "readinessProbe", "livenessProbe")
    }
    assert paths == {
        "startupProbe": ("/health/live", port["name"]),
        "readinessProbe": ("/health/ready", port["name"]),
        "livenessProbe": ("/health/live", port["name"]),
    }


def _routes(upstreams: str) -> set[str]:
    return {pair.partition("=")[0] for pair in upstreams.split(",")}


def test_the_gateway_routes_to_every_service() -> None:
    others = set(SERVICE_NAMES) - {"gateway"}
    assert _routes(configmap()["MERCATO_GATEWAY_UPSTREAMS"]) == others
    gateway_env = compose_services()["gateway"]["environment"]["MERCATO_GATEWAY_UPSTREAMS"]
    default = gateway_env.partition(":-")[2].rstrip("}")  # ${VAR:-default}
    assert _routes(default) == others
    example = dict(
        line.split("=", 1)
        for line in (DEPLOY / ".env.example").read_text().splitlines()
        if line.startswith("MERCATO_GATEWAY_UPSTREAMS=")
    )
    assert _routes(example["MERCATO_GATEWAY_UPSTREAMS"]) == others


def test_compose_keeps_its_connections_under_max_connections_too() -> None:
    services = compose_services()
    pools = {
        name: int(spec["environment"]["MERCATO_DATABASE_POOL_SIZE"])
        for name, spec in services.items()
        if name != "gateway"
    }
    budget = POSTGRES_DEFAULT_MAX_CONNECTIONS - POSTGRES_RESERVED
    assert sum(pools.values()) <= budget


def test_the_env_example_sets_only_what_compose_reads() -> None:
    compose = (DEPLOY / "compose.yaml").read_text()
    unread = [name for name in env_file(DEPLOY / ".env.example") if f"${{{name}" not in compose]
    assert unread == []


def test_auth_knows_the_client_of_every_other_service() -> None:
    """Each service asks auth for service tokens with its id and secret."""
    others = set(SERVICE_NAMES) - {"auth"}
    k8s_env = {e["name"]: e.get("value", "") for e in deployments()["auth"]["container"]["env"]}
    compose_env = compose_services()["auth"]["environment"]
    for clients in (k8s_env["MERCATO_AUTH_CLIENTS"], compose_env["MERCATO_AUTH_CLIENTS"]):
        assert {pair.partition(":")[0] for pair in clients.split(",")} == others


def test_the_gateway_keeps_its_operator_port_inside_the_cluster() -> None:
    gateway = deployments()["gateway"]
    annotations = gateway["deployment"]["spec"]["template"]["metadata"]["annotations"]
    (operator,) = [p for p in gateway["container"]["ports"] if p["name"] == "operator"]
    assert annotations["prometheus.io/port"] == str(operator["containerPort"])
    (service,) = [s for s in k8s_objects("Service") if s["metadata"]["name"] == "gateway"]
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]
    compose = compose_services()["gateway"]
    assert compose["environment"]["MERCATO_GATEWAY_OPERATOR_PORT"] == "9100"
    # Compose publishes the edge (HAProxy) only, on the gateway's public port.
    assert "ports" not in compose
    edge = documents(DEPLOY / "compose.yaml")[0]["services"]["edge"]
    assert [published.rsplit(":", 1)[1] for published in edge["ports"]] == ["8000"]
