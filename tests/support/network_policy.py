"""Whether Kubernetes NetworkPolicies let one pod reach another (or an outside address) on a port.

The semantics of networking.k8s.io/v1 (https://kubernetes.io/docs/concepts/services-networking/network-policies/):
a pod is isolated for a direction once any policy of its namespace selects it with that policy
type; then a connection needs one matching rule in some selecting policy, on the source side
for egress and on the destination side for ingress. A peer's podSelector alone means "in the
policy's namespace"; with a namespaceSelector, pods of the selected namespaces (each namespace
carries the label kubernetes.io/metadata.name). ipBlock peers are taken to match addresses
outside the cluster only (what they are for; for pod IPs the behaviour is left to the plugin).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Endpoint:
    """A pod (namespace + labels) or, with `ip`, an address outside the cluster."""

    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    ip: str | None = None


def selects(selector: dict[str, Any] | None, labels: dict[str, str]) -> bool:
    """A label selector (matchLabels + matchExpressions) against a label set; {} selects everything."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values") or []
        present = key in labels
        ok = {"In": present and labels[key] in values, "NotIn": not present or labels[key] not in values,
              "Exists": present, "DoesNotExist": not present}[op]
        if not ok:
            return False
    return True


def peer_matches(peer: dict[str, Any], policy_namespace: str, other: Endpoint) -> bool:
    if "ipBlock" in peer:
        if other.ip is None:
            return False
        block = peer["ipBlock"]
        address = ipaddress.ip_address(other.ip)
        return address in ipaddress.ip_network(block["cidr"]) and not any(
            address in ipaddress.ip_network(e) for e in block.get("except") or [])
    if other.ip is not None:
        return False
    if "namespaceSelector" in peer:
        ns_labels = {"kubernetes.io/metadata.name": other.namespace}
        if not selects(peer["namespaceSelector"], ns_labels):
            return False
    elif other.namespace != policy_namespace:
        return False
    return selects(peer.get("podSelector"), other.labels)


def port_matches(ports: list[dict[str, Any]] | None, port: int, protocol: str) -> bool:
    return not ports or any(p.get("protocol", "TCP") == protocol and p.get("port") in (None, port)
                            and (p.get("endPort") is None or p["port"] <= port <= p["endPort"]) for p in ports)


def side_allows(policies: list[dict[str, Any]], pod: Endpoint, other: Endpoint, port: int, protocol: str,
                direction: str) -> bool:
    """Whether `pod`'s namespace policies let `pod` talk to `other` (Egress) or hear from it (Ingress)."""
    key, peers = ("egress", "to") if direction == "Egress" else ("ingress", "from")
    selecting = [p for p in policies if p["metadata"]["namespace"] == pod.namespace
                 and direction in p["spec"].get("policyTypes", ["Ingress"])
                 and selects(p["spec"]["podSelector"], pod.labels)]
    if not selecting:
        return True  # not isolated in this direction
    for policy in selecting:
        for rule in policy["spec"].get(key) or []:
            peer_ok = not rule.get(peers) or any(peer_matches(peer, policy["metadata"]["namespace"], other)
                                                 for peer in rule[peers])
            if peer_ok and port_matches(rule.get("ports"), port, protocol):
                return True
    return False


def reachable(policies: list[dict[str, Any]], source: Endpoint, destination: Endpoint, port: int,
              protocol: str = "TCP") -> bool:
    """Both ends agree: the source's egress and, for a pod, the destination's ingress."""
    if not side_allows(policies, source, destination, port, protocol, "Egress"):
        return False
    return destination.ip is not None or side_allows(policies, destination, source, port, protocol, "Ingress")
