"""The broker users in `deploy/` are the ones the code defines, and everyone uses theirs.

`deploy/nats/nats.conf` (compose) and the NATS component's ConfigMap (Kubernetes)
hold the `authorization` block `mercato broker-config nats` prints, so the rights a
production broker grants cannot drift from what the services' code does; every
password they reference is given to nats-server, and every service connects as its
own user. `mercato broker-config rabbitmq` prints the RabbitMQ definitions of the
same rules, with each password from the environment.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from mercato.chassis.config import ServiceSettings, load_settings
from mercato.chassis.events.names import DEAD_LETTERS, OPERATOR
from mercato.launcher.broker_config import nats_variable, production_nats_authorization
from mercato.launcher.cli import main
from mercato.launcher.topology import bus_roles
from tests.support.deploy import (
    DEPLOY,
    K8S,
    compose_services,
    deployments,
    documents,
    env_file,
    k8s_objects,
)

COMPONENT = K8S / "components" / "nats"
USERS = [r.name for r in bus_roles()] + [OPERATOR, DEAD_LETTERS]


def component(kind: str) -> dict[str, Any]:
    (found,) = [d for d in documents(COMPONENT / f"{kind.lower()}.yaml") if d["kind"] == kind]
    return found


def k8s_nats_conf() -> str:
    configmaps = [d for d in documents(COMPONENT / "nats.yaml") if d["kind"] == "ConfigMap"]
    return str(configmaps[0]["data"]["nats.conf"])


def test_the_production_nats_configurations_hold_the_users_the_code_defines() -> None:
    block = production_nats_authorization()
    assert block in (DEPLOY / "nats" / "nats.conf").read_text()
    assert block in k8s_nats_conf()


def test_every_password_the_broker_reads_is_given_to_it() -> None:
    wanted = {nats_variable(user) for user in USERS}
    for conf in ((DEPLOY / "nats" / "nats.conf").read_text(), k8s_nats_conf()):
        assert set(re.findall(r"\$(NATS_[A-Z_]+_PASSWORD)", conf)) == wanted
    services = documents(DEPLOY / "compose.yaml")[0]["services"]
    for node in ("nats-1", "nats-2", "nats-3"):  # the compose cluster's nodes
        assert set(services[node]["environment"]) == wanted | {"NATS_SERVER_NAME"}
    assert wanted <= set(env_file(DEPLOY / ".env.example"))
    (statefulset,) = [d for d in documents(COMPONENT / "nats.yaml") if d["kind"] == "StatefulSet"]
    (container,) = statefulset["spec"]["template"]["spec"]["containers"]
    refs = {
        e["name"]: e["valueFrom"]["secretKeyRef"]["key"]
        for e in container["env"]
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert set(refs) == wanted and set(refs.values()) <= set(component("Secret")["stringData"])


def test_every_service_connects_to_the_broker_as_itself() -> None:
    (secret,) = k8s_objects("Secret")
    for role in bus_roles():
        variable = f"MERCATO_{role.name.upper()}_BROKER_URL"
        in_compose = compose_services()[role.name]["environment"][variable]
        assert in_compose.startswith(f"nats://{role.name}:${{{nats_variable(role.name)}:?")
        in_k8s = urlsplit(secret["stringData"][variable])
        assert in_k8s.username == role.name and in_k8s.password
        names = [e["name"] for e in deployments()[role.name]["container"]["env"]]
        assert variable in names and "MERCATO_BROKER_URL" not in names


def test_the_rabbitmq_definitions_take_each_password_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for user in USERS:
        monkeypatch.delenv(f"RABBITMQ_{user.upper().replace('-', '_')}_PASSWORD", raising=False)
    assert main(["broker-config", "rabbitmq"]) == 2
    assert "RABBITMQ_AUTH_PASSWORD" in capsys.readouterr().err
    for user in USERS:
        name = {OPERATOR: "OPERATOR", DEAD_LETTERS: "DEAD_LETTERS"}.get(user, user.upper())
        monkeypatch.setenv(f"RABBITMQ_{name}_PASSWORD", f"secret-of-{user}")
    assert main(["broker-config", "rabbitmq", "--vhost", "shop"]) == 0
    definitions = json.loads(capsys.readouterr().out)
    assert sorted(u["name"] for u in definitions["users"]) == sorted(USERS)
    assert all("secret-of" not in json.dumps(u) for u in definitions["users"])
    assert {p["vhost"] for p in definitions["permissions"]} == {"shop"}


def test_the_nats_component_keeps_one_copy_of_each_event_per_node() -> None:
    """On Kubernetes the broker is a 3-node cluster: the services' streams get 3 replicas."""
    (statefulset,) = [d for d in documents(COMPONENT / "nats.yaml") if d["kind"] == "StatefulSet"]
    (base,) = k8s_objects("ConfigMap")
    replicas = base["data"]["MERCATO_EVENT_REPLICAS"]
    assert replicas == str(statefulset["spec"]["replicas"]) == "3"
    assert (
        load_settings(
            ServiceSettings, "orders", {"MERCATO_EVENT_REPLICAS": replicas}
        ).event_replicas
        == 3
    )
    # Compose runs a 3-node cluster too: every service asks for 3 copies.
    compose = documents(DEPLOY / "compose.yaml")[0]["services"]
    nodes = [name for name, spec in compose.items() if "nats-server" in spec.get("command", [])]
    assert nodes == ["nats-1", "nats-2", "nats-3"]
    for name, spec in compose_services().items():
        assert spec["environment"]["MERCATO_EVENT_REPLICAS"] == "3", name
