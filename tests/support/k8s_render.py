"""The Kubernetes kit rendered by kustomize and validated strictly against the API schemas.

`rendered(variant)` runs `kubectl kustomize` (kustomize built into kubectl, offline:
every path is local) on one of `VARIANTS`: the base, the two overlays, and the base
with each optional component (a kustomization written to a temporary directory that
names the base and the component by relative path). Without kubectl the test skips,
and fails under MERCATO_REQUIRE_SERVERS=1 (as CI runs).

`schema_errors(obj, version)` validates one rendered object strictly (no unknown field
anywhere, every required field present, every type right) for a Kubernetes version:

- the core and built-in API groups with the JSON schemas that the `kubernetes-validate`
  package ships for every minor version (its `-strict` schemas forbid unknown fields);
- the Gateway API's HTTPRoute with the CRD schema kept in `schemas/` (the
  `openAPIV3Schema` of gateway.networking.k8s.io/v1, from the Gateway API's standard
  channel), made strict here as the API server's field validation is: every object
  with `properties` gets `additionalProperties: false` unless it says otherwise;
- the Prometheus Operator's kinds (the monitoring component) with no schema:
  `test_deploy_monitoring` checks them field by field. Any other kind is an error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from kubernetes_validate import utils as kv
from referencing import Registry, Resource

from tests.support.deploy import K8S
from tests.support.servers import REQUIRE_SERVERS

# The Kubernetes minor versions the kit must be valid for: the oldest still supported by
# the major clouds' long-term channels, to the newest the schemas know.
KUBERNETES_VERSIONS = tuple(f"1.{minor}" for minor in range(30, 38))

# What `rendered` can build: a kustomization directory under deploy/k8s, or the base
# with one component.
OVERLAYS = ("base", "overlays/production", "overlays/small")
COMPONENTS = ("nats", "monitoring", "ingress")
VARIANTS = OVERLAYS + tuple(f"base+{component}" for component in COMPONENTS)

SCHEMAS = Path(__file__).resolve().parent / "schemas"
HTTPROUTE_SCHEMA = SCHEMAS / "gateway-api-v1.6.1-httproute-v1.json"
GATEWAY_API = "gateway.networking.k8s.io/v1"
# Validated by tests/unit/test_deploy_monitoring.py, field by field.
PROMETHEUS_OPERATOR = "monitoring.coreos.com/v1"


def kubectl() -> str:
    """The path of kubectl; skip the test (fail under MERCATO_REQUIRE_SERVERS=1) without it."""
    found = shutil.which("kubectl")
    if found is not None:
        return found
    reason = "kubectl is not installed (it renders the kustomizations: `kubectl kustomize`)"
    if os.environ.get(REQUIRE_SERVERS) == "1":
        pytest.fail(f"{reason}; {REQUIRE_SERVERS}=1 requires it", pytrace=False)
    pytest.skip(reason)


def _kustomize(directory: Path) -> str:
    result = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(f"kubectl kustomize {directory}: {result.stderr.strip()}", pytrace=False)
    return result.stdout


@cache
def _rendered_text(variant: str) -> str:
    if variant in OVERLAYS:
        return _kustomize(K8S / variant)
    base, _, component = variant.partition("+")
    assert base == "base" and component in COMPONENTS, variant
    with tempfile.TemporaryDirectory() as directory:
        # kustomize takes relative paths only (they may leave the kustomization's root).
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            # As the base's own `components:` list would: its namespace and labels too.
            "namespace": "mercato",
            "labels": [
                {
                    "pairs": {"app.kubernetes.io/part-of": "mercato"},
                    "includeSelectors": False,
                    "includeTemplates": True,
                }
            ],
            "resources": [os.path.relpath(K8S / "base", directory)],
            "components": [os.path.relpath(K8S / "components" / component, directory)],
        }
        (Path(directory) / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        return _kustomize(Path(directory))


@cache
def _parsed(variant: str) -> tuple[dict[str, Any], ...]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return tuple(doc for doc in yaml.load_all(_rendered_text(variant), Loader=loader) if doc)


def rendered(variant: str) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize` renders for `variant` (shared: copy before changing)."""
    return list(_parsed(variant))


def objects(variant: str, kind: str) -> list[dict[str, Any]]:
    return [doc for doc in rendered(variant) if doc["kind"] == kind]


def named(variant: str, kind: str, name: str) -> dict[str, Any]:
    (found,) = [doc for doc in objects(variant, kind) if doc["metadata"]["name"] == name]
    return found


# -- validation ---------------------------------------------------------------------------


def _strict(schema: Any) -> Any:
    """`schema` with `additionalProperties: false` on every object that lists properties."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    open_ended = "additionalProperties" in strict or strict.get(
        "x-kubernetes-preserve-unknown-fields"
    )
    if "properties" in strict and not open_ended:
        strict["additionalProperties"] = False
    return strict


@cache
def _httproute_validator() -> jsonschema.Draft7Validator:
    schema = json.loads(HTTPROUTE_SCHEMA.read_text())
    return jsonschema.Draft7Validator(_strict(schema))


@cache
def _core_validator(version: str, kind: str, api_version: str) -> jsonschema.Validator:
    """kubernetes-validate's strict schema of the kind, as its `validate` builds it."""
    (schema_version,) = {v for v in kv.all_versions() if kv.major_minor(v) == version}
    directory = f"kubernetes-json-schema/v{schema_version}-local-strict"
    # As kubernetes-validate names its files: apps/v1 -> apps-v1, networking.k8s.io/v1 ->
    # networking-v1, v1 -> v1.
    group, _, api = api_version.rpartition("/")
    prefix = group.partition(".")[0] + "-" if group else ""
    name = f"{kind.lower()}-{prefix}{api}.json"
    schema = kv.schema_contents(f"{directory}/{name}", version)
    definitions = kv.schema_contents(f"{directory}/_definitions.json", version)
    registry: Registry[Any] = Resource.from_contents(definitions) @ Registry()
    registry = Resource.from_contents(schema) @ registry
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _messages(errors: Iterator[jsonschema.ValidationError]) -> list[str]:
    return sorted(f"{'.'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors)


def schema_errors(obj: dict[str, Any], version: str) -> list[str]:
    """What is wrong with `obj` for Kubernetes `version` (`1.30`...), strictly; [] if nothing."""
    api_version, kind = obj["apiVersion"], obj["kind"]
    if api_version == PROMETHEUS_OPERATOR:
        return []
    if (api_version, kind) == (GATEWAY_API, "HTTPRoute"):
        return _messages(_httproute_validator().iter_errors(obj))
    try:
        validator = _core_validator(version, kind, api_version)
    except (kv.SchemaNotFoundError, FileNotFoundError):
        return [f"no schema for {api_version} {kind} in Kubernetes {version}"]
    return _messages(validator.iter_errors(obj))
