"""What a set of Kubernetes NetworkPolicies lets through, evaluated as the API defines it.

`Network(policies)` answers `allows(source, destination, port)`: a connection passes
when the source's egress allows it and the destination's ingress allows it. A pod
that no policy of a direction selects is open in that direction; once one selects it,
only what some rule of those policies allows passes. A rule's peers are pods of the
policies' namespace (`podSelector`), pods of the namespaces a `namespaceSelector`
picks (optionally narrowed by a `podSelector`), or addresses (`ipBlock`); a rule
without peers allows every peer, one without ports every port. A named port is looked
up among the destination pod's container ports.

Endpoints are `Endpoint`s: a pod (namespace, labels, named ports) or an address outside
the cluster (`namespace=None`). Only what the kit uses is modelled: TCP and UDP ports,
no port ranges (`endPort`), `ipBlock` matched as "anything outside the cluster".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NAMESPACE_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class Endpoint:
    """A pod (its namespace, labels and named container ports) or an outside address."""

    namespace: str | None
    labels: Mapping[str, str] = field(default_factory=dict)
    ports: Mapping[str, int] = field(default_factory=dict)  # container port name -> number


@dataclass(frozen=True)
class Port:
    number: int
    protocol: str = "TCP"


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a label selector (`matchLabels`, `matchExpressions`) picks `labels`."""
    unknown = set(selector) - {"matchLabels", "matchExpressions"}
    assert not unknown, f"selector fields not modelled: {unknown}"
    if not selector.get("matchLabels", {}).items() <= dict(labels).items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _peer_matches(peer: Mapping[str, Any], namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        return other.namespace is None
    if other.namespace is None:
        return False
    if "namespaceSelector" in peer:
        namespace_labels = {NAMESPACE_LABEL: other.namespace}
        if not selects(peer["namespaceSelector"], namespace_labels):
            return False
    elif other.namespace != namespace:
        return False
    return selects(peer.get("podSelector", {}), other.labels)


def _port_matches(
    entries: Iterable[Mapping[str, Any]] | None, destination: Endpoint, port: Port
) -> bool:
    if entries is None:
        return True
    for entry in entries:
        if entry.get("protocol", "TCP") != port.protocol:
            continue
        wanted = entry.get("port")
        if wanted is None:
            return True
        number = destination.ports.get(wanted) if isinstance(wanted, str) else wanted
        if number == port.number:
            return True
    return False


class Network:
    """The NetworkPolicies of one namespace (as rendered), ready to answer questions."""

    def __init__(self, policies: Iterable[Mapping[str, Any]], namespace: str) -> None:
        self.policies = [p for p in policies if p["metadata"].get("namespace") == namespace]
        self.namespace = namespace

    def _selecting(self, pod: Endpoint, direction: str) -> list[Mapping[str, Any]]:
        if pod.namespace != self.namespace:
            return []
        return [
            p
            for p in self.policies
            if direction in p["spec"].get("policyTypes", ["Ingress"])
            and selects(p["spec"]["podSelector"], pod.labels)
        ]

    def _allowed(self, pod: Endpoint, other: Endpoint, port: Port, direction: str) -> bool:
        """Whether `pod`'s policies of `direction` let it talk with `other` on `port`."""
        policies = self._selecting(pod, direction)
        if not policies:  # no policy of this direction selects it: open
            return True
        key, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
        destination = pod if direction == "Ingress" else other
        for policy in policies:
            for rule in policy["spec"].get(key, []):
                peers = rule.get(peers_key)
                peer_ok = peers is None or any(
                    _peer_matches(peer, self.namespace, other) for peer in peers
                )
                if peer_ok and _port_matches(rule.get("ports"), destination, port):
                    return True
        return False

    def allows(self, source: Endpoint, destination: Endpoint, port: Port) -> bool:
        """Whether a connection from `source` to `destination`'s `port` gets through."""
        return self._allowed(source, destination, port, "Egress") and self._allowed(
            destination, source, port, "Ingress"
        )
