"""Each rankops-<env> namespace is a Kubeflow profile namespace (docs/deployment.md): it must keep the
label Kubeflow's admission webhooks select such namespaces by, or the PodDefault that gives the
KFP-API-calling steps their token (manifests/base/kfp-api-token.yaml) never applies."""

from __future__ import annotations

import pytest

from pipelines.placement import KFP_API_LABEL
from tests.support.network_policy import selects

ENVS = ("dev", "staging", "prod")
# Kubeflow's PodDefault webhook (MutatingWebhookConfiguration, webhook poddefault-webhook.kubeflow.org) only
# sees pods of namespaces with this label; the Kubeflow profile controller puts it on profile namespaces.
PODDEFAULT_WEBHOOK_NAMESPACE_SELECTOR = {"matchLabels": {"app.kubernetes.io/part-of": "kubeflow-profile"}}


@pytest.mark.parametrize("env", ENVS)
def test_the_namespace_stays_a_kubeflow_profile_namespace_so_the_poddefault_applies(rendered, env):
    docs = rendered[env]
    [namespace] = [d for d in docs if d["kind"] == "Namespace"]
    labels = namespace["metadata"]["labels"]
    assert labels["app.kubernetes.io/part-of"] == "kubeflow-profile"
    assert selects(PODDEFAULT_WEBHOOK_NAMESPACE_SELECTOR, labels)
    assert {mode: labels[f"pod-security.kubernetes.io/{mode}"] for mode in ("enforce", "audit", "warn")} == {
        "enforce": "restricted", "audit": "restricted", "warn": "restricted"}
    # the PodDefault lives in that namespace and selects the steps that call the KFP API
    [poddefault] = [d for d in docs if d["kind"] == "PodDefault"]
    assert poddefault["metadata"]["name"] == "rankops-kfp-api-token"
    assert poddefault["metadata"]["namespace"] == namespace["metadata"]["name"] == f"rankops-{env}"
    assert selects(poddefault["spec"]["selector"], dict([KFP_API_LABEL]))
    # the base's other objects are still labelled as part of rankops
    kept = {("Deployment", "ranker"), ("Service", "mlflow"), ("NetworkPolicy", "default-deny-all"),
            ("PodDefault", "rankops-kfp-api-token"), ("ResourceQuota", "rankops-quota")}
    base = [d for d in docs if (d["kind"], d["metadata"]["name"]) in kept]
    assert len(base) == len(kept)
    assert {d["metadata"]["labels"]["app.kubernetes.io/part-of"] for d in base} == {"rankops"}
