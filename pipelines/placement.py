"""Where and how a pipeline task runs in the cluster: secrets, lakehouse volume, GPU, retries, caching.

Pipelines call these on each task so placement is declared once, the same way everywhere.
Everything here lands in the compiled spec's Kubernetes platform config (kfp-kubernetes) or in
the task's retry/caching policy; the local runner ignores the platform config, so the same
pipeline runs unchanged under `kfp.local`.

Pod Security `restricted` (the rankops namespaces enforce it): KFP >= 2.16 compiles every pod of a
run with seccomp RuntimeDefault, no privilege escalation and all capabilities dropped, and runs its
own driver/launcher and Argo's executor as non-root (manifests/kfp/); the one thing left to the
pipeline is `runAsNonRoot` on the step's own container, set here with the image's uid.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable

from kfp import dsl, kubernetes

from components.common.image import GPU_IMAGE, IMAGE

# The lakehouse PVC of manifests/base/storage.yaml, mounted where the cluster profiles point.
LAKEHOUSE_PVC = "rankops-lakehouse"
LAKEHOUSE_MOUNT = "/mnt/lakehouse"

# Kubernetes Secrets (by name) and the keys each one exposes as environment variables.
# Values never live in git: docs/deployment.md shows how to create them.
SECRETS: dict[str, tuple[str, dict[str, str]]] = {
    "mlflow": ("rankops-mlflow-client", {"MLFLOW_TRACKING_USERNAME": "MLFLOW_TRACKING_USERNAME",
                                         "MLFLOW_TRACKING_PASSWORD": "MLFLOW_TRACKING_PASSWORD"}),
    "postgres": ("rankops-postgres", {"POSTGRES_USER": "POSTGRES_USER", "POSTGRES_PASSWORD": "POSTGRES_PASSWORD"}),
    "redis": ("rankops-redis", {"REDIS_PASSWORD": "REDIS_PASSWORD"}),
    "git": ("rankops-git", {"GIT_TOKEN": "GIT_TOKEN"}),
    # prod's tracking server, where dev and staging copy promoted versions (profile promotion.target)
    "prod-mlflow": ("rankops-prod-mlflow-client", {"MLFLOW_TRACKING_USERNAME": "TARGET_MLFLOW_TRACKING_USERNAME",
                                                   "MLFLOW_TRACKING_PASSWORD": "TARGET_MLFLOW_TRACKING_PASSWORD"}),
}
# MLflow may run without auth (in-namespace only); the other secrets must exist.
OPTIONAL_SECRETS = {"mlflow", "prod-mlflow"}

# GPU nodes: labelled by the NVIDIA GPU operator, tainted so only GPU work lands there.
GPU_NODE_LABEL = ("nvidia.com/gpu.present", "true")
GPU_TAINT_KEY = "nvidia.com/gpu"
GPU_RESOURCE = "nvidia.com/gpu"

# Pod label the NetworkPolicies (manifests/base/network-policies.yaml) use to let steps reach services.
ROLE_LABEL = ("rankops.io/role", "pipeline")
# Steps that use the `postgres` secret also get the endpoint (ConfigMap, one per namespace) and the
# label that opens egress to the database (NetworkPolicy postgres-clients).
DATABASE_CONFIG_MAP = "rankops-database"
DATABASE_KEYS = {"POSTGRES_HOST": "POSTGRES_HOST", "POSTGRES_PORT": "POSTGRES_PORT"}
DATABASE_LABEL = ("rankops.io/postgres-client", "true")
# Steps that use prod's tracking server get the label that opens egress to it from dev and staging
# (manifests/components/promotion-source) and that prod's MLflow admits (components/promotion-target).
PROD_MLFLOW_LABEL = ("rankops.io/prod-mlflow-client", "true")
# Steps that call the KFP API (the retrain trigger): a PodDefault mounts a projected token for the
# audience pipelines.kubeflow.org into pods with this label (manifests/base/kfp-api-token.yaml).
KFP_API_LABEL = ("rankops.io/kfp-api", "true")

# The uid/gid of the project images (docker/Dockerfile*); Pod Security `restricted` needs runAsNonRoot.
RUN_AS_UID = 10001
# Every step knows which images its run was submitted with (the submission re-points these values
# with the images), so a step that starts another run pins the same build (components/monitoring/alerts.py).
IMAGE_ENV = {"RANKOPS_KFP__IMAGE": IMAGE, "RANKOPS_KFP__GPU_IMAGE": GPU_IMAGE}

# Compiled with a project selected (`rankops --project NAME pipeline compile`), every step gets it.
PROJECT_ENV = "RANKOPS_PROJECT"

# The pretrained checkpoint staging/prod train from (profile `training.checkpoint`), on its own PVC
# that the seed-checkpoint Job fills from the environment's MLflow artifact store.
MODELS_PVC = "rankops-models"
MODELS_MOUNT = "/mnt/models"


def on_cluster(
    task: dsl.PipelineTask,
    *,
    needs: Iterable[str] = (),
    kfp_api: bool = False,
    cpu: str = "1",
    memory: str = "4Gi",
    retries: int = 0,
    cache: bool = True,
    name: str | None = None,
) -> dsl.PipelineTask:
    """Declare how `task` runs in the cluster: secrets it `needs`, lakehouse, resources, retries, caching.

    `kfp_api` marks a step that calls the KFP API (it gets the projected token).

    Retries back off exponentially (30 s, then x2) so a preempted node or a flaky service
    gets time to come back; only idempotent steps should have retries > 0.
    """
    needs = set(needs)
    unknown = sorted(needs - set(SECRETS))
    if unknown:
        raise ValueError(f"unknown secrets {unknown}; known: {sorted(SECRETS)}")
    if name:
        task.set_display_name(name)
    task.set_cpu_request(cpu).set_memory_request(memory)
    task.set_cpu_limit(cpu).set_memory_limit(memory)
    task.set_caching_options(cache)
    if retries:
        task.set_retry(num_retries=retries, backoff_duration="30s", backoff_factor=2.0,
                       backoff_max_duration="600s")
    kubernetes.set_security_context(task, run_as_user=RUN_AS_UID, run_as_group=RUN_AS_UID, run_as_non_root=True)
    for variable, value in IMAGE_ENV.items():
        task.set_env_variable(variable, value)
    if os.environ.get(PROJECT_ENV):  # a project's pipeline: every step loads the project's settings
        task.set_env_variable(PROJECT_ENV, os.environ[PROJECT_ENV])
    kubernetes.add_pod_label(task, *ROLE_LABEL)
    kubernetes.mount_pvc(task, pvc_name=LAKEHOUSE_PVC, mount_path=LAKEHOUSE_MOUNT)
    for key in sorted(needs):
        secret, keys = SECRETS[key]
        kubernetes.use_secret_as_env(task, secret_name=secret, secret_key_to_env=keys,
                                     optional=key in OPTIONAL_SECRETS)
    if "postgres" in needs:
        kubernetes.use_config_map_as_env(task, config_map_name=DATABASE_CONFIG_MAP, config_map_key_to_env=DATABASE_KEYS)
        kubernetes.add_pod_label(task, *DATABASE_LABEL)
    if "prod-mlflow" in needs:
        kubernetes.add_pod_label(task, *PROD_MLFLOW_LABEL)
    if kfp_api:
        kubernetes.add_pod_label(task, *KFP_API_LABEL)
    return task


def with_checkpoint(task: dsl.PipelineTask) -> dsl.PipelineTask:
    """Mount the models PVC where the staging/prod profiles read the pretrained checkpoint."""
    kubernetes.mount_pvc(task, pvc_name=MODELS_PVC, mount_path=MODELS_MOUNT)
    return task


def on_gpu(task: dsl.PipelineTask, *, gpus: int = 1) -> dsl.PipelineTask:
    """Place `task` on a GPU node: node selector, toleration of the GPU taint, accelerator limit."""
    task.set_accelerator_type(GPU_RESOURCE).set_accelerator_limit(gpus)
    kubernetes.add_node_selector(task, *GPU_NODE_LABEL)
    kubernetes.add_toleration(task, key=GPU_TAINT_KEY, operator="Exists", effect="NoSchedule")
    return task


def with_gpu_image(component):
    """A copy of a lightweight component that runs in the CUDA image (same code, same interface).

    Stage components declare the CPU image; the pipeline decides where a step runs, so the GPU
    image is chosen here, next to the GPU placement (the original component is not modified).
    """
    gpu = copy.deepcopy(component)
    gpu.component_spec.implementation.container.image = GPU_IMAGE
    return gpu


# Job-scoped Spark (manifests/components/spark): the step's pod is the driver. It knows its own
# name (executors are owned by it, so they go when it goes) and address (executors dial back) from
# the downward API, reads the executor pod template from the ConfigMap, and carries the label the
# driver <-> executor NetworkPolicies select. The local runner ignores all of it.
SPARK_DRIVER_LABEL = ("rankops.io/spark-driver", "true")
SPARK_EXECUTOR_CONFIG_MAP = "rankops-spark-executor"
SPARK_EXECUTOR_MOUNT = "/etc/rankops/spark"


def with_spark_executors(task: dsl.PipelineTask) -> dsl.PipelineTask:
    """Let `task` start Spark executor pods when its profile's master is `k8s://...`."""
    from components.common.spark import POD_IP_ENV, POD_NAME_ENV

    kubernetes.add_pod_label(task, *SPARK_DRIVER_LABEL)
    kubernetes.use_field_path_as_env(task, env_name=POD_NAME_ENV, field_path="metadata.name")
    kubernetes.use_field_path_as_env(task, env_name=POD_IP_ENV, field_path="status.podIP")
    kubernetes.use_config_map_as_volume(task, config_map_name=SPARK_EXECUTOR_CONFIG_MAP,
                                        mount_path=SPARK_EXECUTOR_MOUNT)
    return task
