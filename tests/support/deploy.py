"""The deployment files in `deploy/`, read as data: Kubernetes objects, compose services, `.env`.

Also which variables each service reads its settings from, to check the files against.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from mercato.chassis.config import env_names
from mercato.chassis.telemetry import tracing
from mercato.launcher.topology import SERVICES, service

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
BASE = K8S / "base"  # what the overlays build on (`kubectl apply -k deploy/k8s/base`)
SERVICE_NAMES = sorted(s.name for s in SERVICES)


@cache
def setting_names(name: str) -> frozenset[str]:
    """Every variable the service `name` reads a setting from (the OTEL_* of tracing too)."""
    settings_class = get_type_hints(service(name).wiring().load_settings)["return"]
    fields = settings_class.model_fields
    own = frozenset(variable for field in fields for variable in env_names(name, field))
    return own | tracing.VARIABLES


def documents(path: Path) -> list[dict[str, Any]]:
    with path.open() as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def kustomized_files() -> list[Path]:
    """The manifests of the base kustomization (its resources, not the components)."""
    kustomization = documents(BASE / "kustomization.yaml")[0]
    return [BASE / resource for resource in kustomization["resources"]]


def k8s_objects(kind: str) -> list[dict[str, Any]]:
    return [doc for path in kustomized_files() for doc in documents(path) if doc["kind"] == kind]


def deployments() -> dict[str, dict[str, Any]]:
    """The container of each Deployment that runs a Mercato service, by service name."""
    found = {}
    for deployment in k8s_objects("Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        if container.get("args", [])[:1] == ["run"]:
            found[container["args"][1]] = {"deployment": deployment, "container": container}
    return found


def configmap() -> dict[str, str]:
    (config,) = k8s_objects("ConfigMap")
    data: dict[str, str] = config["data"]
    return data


def compose_services() -> dict[str, dict[str, Any]]:
    """The compose services that run a Mercato service, by service name."""
    compose = documents(DEPLOY / "compose.yaml")[0]
    return {
        spec["command"][1]: spec
        for spec in compose["services"].values()
        if spec.get("command", [])[:1] == ["run"]
    }


def env_file(path: Path) -> Iterator[str]:
    """The variable names a `.env` file sets."""
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            yield line.partition("=")[0].strip()
