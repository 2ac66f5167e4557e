"""The Kubernetes kit as `kubectl kustomize` renders it, validated strictly for 1.30 to 1.37.

Every variant (the base, the production and small-cluster overlays, the base with each
optional component) renders, and every object it renders is valid for every
Kubernetes minor version from 1.30 to 1.37 with no unknown field (the core kinds by
the schemas of `kubernetes-validate`, the HTTPRoute by the Gateway API's CRD schema in
tests/support/schemas; `tests.support.k8s_render`). Two tests show that the validation
can fail: a misspelt field, a missing required one. Each object lands in the
`mercato` namespace, the Ingress component replaces the HTTPRoute, and every variable
a variant gives a pod is a setting of its service (as test_deploy_manifests checks
the base's files).
"""

from __future__ import annotations

import copy

import pytest

from tests.support.deploy import SERVICE_NAMES, setting_names
from tests.support.k8s_render import (
    KUBERNETES_VERSIONS,
    VARIANTS,
    named,
    objects,
    rendered,
    schema_errors,
)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_object_is_valid_strictly(variant: str, version: str) -> None:
    errors = {
        f"{obj['kind']}/{obj['metadata']['name']}": found
        for obj in rendered(variant)
        if (found := schema_errors(obj, version))
    }
    assert errors == {}


def test_the_validation_refuses_a_misspelt_field_and_a_missing_one() -> None:
    deployment = copy.deepcopy(named("base", "Deployment", "catalog"))
    deployment["spec"]["template"]["spec"]["containers"][0]["resource"] = {}
    del deployment["spec"]["selector"]
    assert schema_errors(deployment, "1.30") == [
        "spec.template.spec.containers.0: Additional properties are not allowed "
        "('resource' was unexpected)",
        "spec: 'selector' is a required property",
    ]
    policy = copy.deepcopy(named("base", "NetworkPolicy", "catalog"))
    policy["spec"]["ingress"][0]["form"] = policy["spec"]["ingress"][0].pop("from")
    assert len(schema_errors(policy, "1.37")) == 1


def test_the_httproute_validation_refuses_a_misspelt_field_and_a_missing_one() -> None:
    route = copy.deepcopy(named("base", "HTTPRoute", "gateway"))
    route["spec"]["rules"][0]["backendRefs"][0]["prot"] = 8000
    del route["spec"]["parentRefs"][0]["name"]
    route["spec"]["rules"][0]["matches"][0]["path"]["type"] = "Prefix"  # Ingress's word
    assert schema_errors(route, "1.30") == [
        "spec.parentRefs.0: 'name' is a required property",
        "spec.rules.0.backendRefs.0: Additional properties are not allowed ('prot' was unexpected)",
        "spec.rules.0.matches.0.path.type: 'Prefix' is not one of "
        "['Exact', 'PathPrefix', 'RegularExpression']",
    ]


def test_an_unknown_kind_is_an_error_not_a_pass() -> None:
    unknown = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    assert schema_errors(unknown, "1.30") == [
        "no schema for example.com/v1 Widget in Kubernetes 1.30"
    ]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_object_lands_in_the_mercato_namespace(variant: str) -> None:
    outside = [
        f"{obj['kind']}/{obj['metadata']['name']}"
        for obj in rendered(variant)
        if obj["kind"] != "Namespace" and obj["metadata"].get("namespace") != "mercato"
    ]
    assert outside == []
    assert all(
        obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "mercato"
        for obj in rendered(variant)
    )


def test_the_ingress_component_replaces_the_httproute() -> None:
    assert [r["metadata"]["name"] for r in objects("base", "HTTPRoute")] == ["gateway"]
    assert objects("base", "Ingress") == []
    assert objects("base+ingress", "HTTPRoute") == []
    (ingress,) = objects("base+ingress", "Ingress")
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    assert (path["path"], path["pathType"]) == ("/", "Prefix")
    assert path["backend"]["service"] == {"name": "gateway", "port": {"name": "http"}}


def test_the_overlays_differ_from_the_base_where_they_say() -> None:
    def replicas(variant: str, name: str) -> int:
        count: int = named(variant, "Deployment", name)["spec"]["replicas"]
        return count

    assert replicas("overlays/production", "gateway") == 3
    assert replicas("base", "gateway") == 2
    assert (
        named("overlays/production", "HorizontalPodAutoscaler", "gateway")["spec"]["maxReplicas"]
        > named("overlays/small", "HorizontalPodAutoscaler", "gateway")["spec"]["maxReplicas"]
    )
    for variant in ("overlays/production", "overlays/small"):
        (statefulset,) = objects(variant, "StatefulSet")
        assert statefulset["metadata"]["name"] == "nats"


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variable_a_variant_sets_is_a_setting(variant: str) -> None:
    """As test_deploy_manifests checks the base's files, on what each variant renders."""
    (config,) = [
        c for c in objects(variant, "ConfigMap") if c["metadata"]["name"] == "mercato-config"
    ]
    everyone = frozenset().union(*(setting_names(name) for name in SERVICE_NAMES))
    assert [key for key in config["data"] if key not in everyone] == []
    for kind in ("Deployment", "Job"):
        for workload in objects(variant, kind):
            (container,) = workload["spec"]["template"]["spec"]["containers"]
            service = container["args"][1]
            names = [env["name"] for env in container["env"]]
            values = " ".join(str(env.get("value", "")) for env in container["env"])
            helpers = {name for name in names if f"$({name})" in values}
            unknown = [n for n in names if n not in setting_names(service) and n not in helpers]
            assert unknown == [], workload["metadata"]["name"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_pod_keeps_the_restricted_pod_security_standard(variant: str) -> None:
    """The namespace enforces it: a pod that breaks it would never start."""
    (namespace,) = objects(variant, "Namespace")
    labels = namespace["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    for kind in ("Deployment", "StatefulSet", "Job"):
        for workload in objects(variant, kind):
            pod = workload["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            assert pod["automountServiceAccountToken"] is False
            for container in pod["containers"] + pod.get("initContainers", []):
                context = container["securityContext"]
                assert context["allowPrivilegeEscalation"] is False
                assert context["capabilities"] == {"drop": ["ALL"]}
                assert context["readOnlyRootFilesystem"] is True
