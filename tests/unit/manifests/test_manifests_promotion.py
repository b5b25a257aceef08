"""Promotion across environments, as deployed: the sync CronJob in prod and the network paths the
copy into prod's MLflow takes (dev/staging steps -> prod's tracking server), nothing wider."""

from __future__ import annotations

import pytest

from components.common.config import load_settings
from pipelines.placement import OPTIONAL_SECRETS, PROD_MLFLOW_LABEL, SECRETS
from tests.support.network_policy import Endpoint, reachable

ENVS = ("dev", "staging", "prod")
GITHUB_API = "140.82.112.6"  # an address of api.github.com: outside the cluster


def cron_pod(docs: list[dict], name: str) -> dict:
    (cron,) = [d for d in docs if d["kind"] == "CronJob" and d["metadata"]["name"] == name]
    return cron


def test_promotion_sync_runs_in_prod_only(rendered):
    for env in ("dev", "staging"):
        assert [d for d in rendered[env] if d["metadata"]["name"] == "promotion-sync"] == []
    cron = cron_pod(rendered["prod"], "promotion-sync")
    assert (cron["spec"]["schedule"], cron["spec"]["concurrencyPolicy"]) == ("*/10 * * * *", "Forbid")
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["rankops", "promote", "sync"] and "args" not in container
    assert pod["serviceAccountName"] == "rankops-promotion-sync" and pod["automountServiceAccountToken"] is False


def test_promotion_sync_gets_what_the_prod_profile_reads(rendered, k8s, monkeypatch):
    """The token variable the profile expands and the forge client reads is the one the Secret gives."""
    docs = rendered["prod"]
    pod = cron_pod(docs, "promotion-sync")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e.get("value") or e["valueFrom"] for e in container["env"]}
    assert env["GIT_TOKEN"] == {"secretKeyRef": {"name": "rankops-git", "key": "GIT_TOKEN"}}
    runtime = k8s.find(docs, "ConfigMap", "rankops-runtime-")
    assert container["envFrom"] == [{"configMapRef": {"name": runtime["metadata"]["name"]}},
                                    {"secretRef": {"name": "rankops-mlflow-client", "optional": True}}]
    # RANKOPS_HOME (where the GitOps clone goes) is on the writable emptyDir, not on the read-only root
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert env["RANKOPS_HOME"].startswith("/tmp/") and "emptyDir" in next(
        v for v in pod["volumes"] if v["name"] == mounts["/tmp"])
    monkeypatch.setenv("GIT_TOKEN", "t0ken")
    settings = load_settings(runtime["data"]["RANKOPS_ENV"], environ={})
    assert settings.env == "prod" and settings.promotion.target is None  # prod's own registry is the target
    assert (settings.promotion.forge.kind, settings.promotion.forge.token_env) == ("github", "GIT_TOKEN")
    assert settings.promotion.git_url == "https://x-access-token:t0ken@github.com/rankops/rankops.git"
    assert settings.tracking_uri == "http://mlflow.rankops-prod.svc.cluster.local:5000"


def policies_of(rendered) -> list[dict]:
    return [d for env in ENVS for d in rendered[env] if d["kind"] == "NetworkPolicy"]


def pod(env: str, **labels: str) -> Endpoint:
    return Endpoint(f"rankops-{env}", labels)


MLFLOW = {"app.kubernetes.io/name": "mlflow"}
STEP = {"rankops.io/role": "pipeline"}
PROD_CLIENT = {**STEP, PROD_MLFLOW_LABEL[0]: PROD_MLFLOW_LABEL[1]}
SYNC = {"app.kubernetes.io/name": "promotion-sync"}


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
    # the sync job in prod: its MLflow and the forge over HTTPS, nothing else
    (pod("prod", **SYNC), pod("prod", **MLFLOW), 5000, True),
    (pod("prod", **SYNC), Endpoint(ip=GITHUB_API), 443, True),
    (pod("prod", **SYNC), Endpoint(ip=GITHUB_API), 22, False),
    (pod("prod", **SYNC), pod("prod", **{"app.kubernetes.io/name": "redis"}), 6379, False),
    (pod("prod", **SYNC), pod("prod", **{"app.kubernetes.io/name": "ranker"}), 8080, False),
    (pod("prod", **STEP), pod("prod", **SYNC), 8080, False),
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
