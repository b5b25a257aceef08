"""Promotion across environments, as deployed: the network paths the copy into prod's MLflow takes
(dev/staging steps -> prod's tracking server), nothing wider."""

from __future__ import annotations

import pytest

from components.common.config import load_settings
from pipelines.placement import OPTIONAL_SECRETS, PROD_MLFLOW_LABEL, SECRETS
from tests.support.network_policy import Endpoint, reachable

ENVS = ("dev", "staging", "prod")


def policies_of(rendered) -> list[dict]:
    return [d for env in ENVS for d in rendered[env] if d["kind"] == "NetworkPolicy"]


def pod(env: str, **labels: str) -> Endpoint:
    return Endpoint(f"rankops-{env}", labels)


MLFLOW = {"app.kubernetes.io/name": "mlflow"}
STEP = {"rankops.io/role": "pipeline"}
PROD_CLIENT = {**STEP, PROD_MLFLOW_LABEL[0]: PROD_MLFLOW_LABEL[1]}


@pytest.mark.parametrize(("source", "destination", "port", "allowed"), [
    # the steps that copy into / read prod's registry, from dev and staging
    (pod("dev", **PROD_CLIENT), pod("prod", **MLFLOW), 5000, True),
    (pod("staging", **PROD_CLIENT), pod("prod", **MLFLOW), 5000, True),
    (pod("dev", **PROD_CLIENT), pod("prod", **MLFLOW), 8080, False),
    (pod("dev", **PROD_CLIENT), pod("prod", **{"app.kubernetes.io/name": "redis"}), 6379, False),
    (pod("dev", **PROD_CLIENT), pod("dev", **MLFLOW), 5000, True),  # its own MLflow still
    # other pods of dev and staging, and other namespaces, stay out
    (pod("dev", **STEP), pod("prod", **MLFLOW), 5000, False),
    (pod("dev", **{"app.kubernetes.io/name": "ranker"}), pod("prod", **MLFLOW), 5000, False),
    (Endpoint("team-x", dict(PROD_CLIENT)), pod("prod", **MLFLOW), 5000, False),
    (pod("prod", **PROD_CLIENT), pod("dev", **MLFLOW), 5000, False),  # nothing reaches back into dev
])
def test_network_paths_of_promotion(rendered, source, destination, port, allowed):
    assert reachable(policies_of(rendered), source, destination, port) is allowed


def test_the_reachability_check_follows_both_ends(rendered):
    """Guards the test above: removing either end's allow breaks the path."""
    policies = policies_of(rendered)
    source, destination = pod("dev", **PROD_CLIENT), pod("prod", **MLFLOW)
    assert reachable(policies, source, destination, 5000)
    no_egress = [p for p in policies if p["metadata"]["name"] != "prod-mlflow-clients"]
    assert not reachable(no_egress, source, destination, 5000)
    import copy

    no_ingress = copy.deepcopy(policies)
    prod_mlflow = next(p for p in no_ingress if (p["metadata"]["name"], p["metadata"]["namespace"]) == (
        "mlflow", "rankops-prod"))
    prod_mlflow["spec"]["ingress"] = prod_mlflow["spec"]["ingress"][:1]  # only the in-namespace clients
    assert not reachable(no_ingress, source, destination, 5000)
    open_ingress = [p for p in policies if p["metadata"]["namespace"] != "rankops-prod"]
    assert reachable(open_ingress, source, destination, 5000)  # a namespace without policies isolates nothing


def test_the_allows_exist_in_exactly_those_overlays(rendered, k8s):
    egress = {env: [d["metadata"]["name"] for d in rendered[env] if d["kind"] == "NetworkPolicy"
                    and d["metadata"]["name"] == "prod-mlflow-clients"] for env in ENVS}
    assert egress == {"dev": ["prod-mlflow-clients"], "staging": ["prod-mlflow-clients"], "prod": []}
    for env in ENVS:
        ingress = k8s.find(rendered[env], "NetworkPolicy", "mlflow")["spec"]["ingress"]
        outside = [peer for rule in ingress for peer in rule["from"] if "namespaceSelector" in peer]
        assert outside == ([{"namespaceSelector": {"matchExpressions": [
            {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["rankops-dev", "rankops-staging"]}]},
            "podSelector": {"matchLabels": {"rankops.io/prod-mlflow-client": "true"}}}] if env == "prod" else [])


def test_prod_tracking_credentials_reach_the_target_client():
    """The optional Secret's keys land in the variables the dev/staging profiles read for promotion.target."""
    secret, keys = SECRETS["prod-mlflow"]
    assert secret == "rankops-prod-mlflow-client" and "prod-mlflow" in OPTIONAL_SECRETS
    for env in ("dev", "staging"):
        target = load_settings(env, environ={}).promotion.target
        assert keys == {"MLFLOW_TRACKING_USERNAME": target.username_env,
                        "MLFLOW_TRACKING_PASSWORD": target.password_env}
        assert target.tracking_uri == load_settings("prod", environ={}).tracking_uri
