"""Upload pipeline versions to KFP and start runs or recurring runs (the `submit` and `upload` commands).

A version is named `<pipeline>-<git sha[:12]>` (plus `-dirty` for uncommitted trees, the first
12 hex of the image digest when the images are pinned by digest, and `-trainjob` for the TrainJob variant), so the KFP dashboard says which
commit and build a run came from, and uploading the same build twice reuses it.

What is uploaded to an environment is the committed spec prepared for it (`prepare_spec`): its
`env` parameter defaults to that environment, its pipeline root is the environment's, and its
images point at the environment's build (by digest in staging and prod), so a run started from
the KFP dashboard runs there as configured. Pipelines are uploaded into the environment's
namespace (multi-user KFP); a single-user KFP is refused (`require_multi_user`).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pipelines.compile import IMAGE_RE, is_digest_ref, repoint_spec

SERVICE_ACCOUNT = "rankops-pipeline-runner"  # manifests/base/rbac.yaml


@dataclass
class Submission:
    """What `submit` created; also the `--summary` JSON."""

    pipeline: str
    pipeline_id: str
    version_id: str
    version_name: str
    image: str | None = None
    gpu_image: str | None = None
    experiment_id: str | None = None
    run_id: str | None = None
    recurring_run_id: str | None = None
    schedule: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


TOKEN_PATH_ENV = "KF_PIPELINES_SA_TOKEN_PATH"
SINGLE_USER_REFUSAL = (
    "KFP at {host} runs in single-user mode: its runs land in the `kubeflow` namespace, which has "
    "none of what rankops steps need (the rankops-* Secrets, the lakehouse and models PVCs, the "
    "NetworkPolicies and Pod Security settings of {namespace}). rankops needs multi-user KFP, "
    "which runs each environment's pipelines in its own namespace (docs/deployment.md, "
    "\"Kubeflow Pipelines\")")


class SingleUserKfp(ValueError):
    """The KFP API is a single-user deployment, where rankops runs cannot work."""


def version_name(pipeline: str, sha: str | None, dirty: bool = False, image: str | None = None,
                 trainjob: bool = False) -> str:
    """`<pipeline>-<sha12>[-dirty][-<digest12>][-trainjob]`; `<pipeline>-nogit` outside a git checkout.
    The TrainJob variant is a different spec (`follow_trainjob`), so it never reuses the in-pod version."""
    suffix = sha[:12] if sha else "nogit"
    digest = f"-{image.rsplit('@sha256:', 1)[1][:12]}" if image and is_digest_ref(image) else ""
    return f"{pipeline}-{suffix}{'-dirty' if dirty else ''}{digest}{'-trainjob' if trainjob else ''}"


def kfp_client(host: str, namespace: str | None):
    """kfp.Client authenticated by the projected ServiceAccount token (in-cluster) or KFP_TOKEN (CI).

    In the cluster, KF_PIPELINES_SA_TOKEN_PATH names the projected token (audience
    pipelines.kubeflow.org); when it is set but the file is missing, fail rather than call
    the API anonymously.
    """
    import warnings

    import kfp
    from kfp.client import ServiceAccountTokenVolumeCredentials

    auth: dict[str, Any] = {}
    token_path = os.environ.get(TOKEN_PATH_ENV)
    if token_path:
        if not Path(token_path).is_file():
            raise FileNotFoundError(
                f"{TOKEN_PATH_ENV}={token_path}: no token there; the pod needs the projected ServiceAccount "
                "token for the audience pipelines.kubeflow.org (manifests/base/kfp-api-token.yaml)")
        auth["credentials"] = ServiceAccountTokenVolumeCredentials(path=token_path)
    elif os.environ.get("KFP_TOKEN"):
        auth["existing_token"] = os.environ["KFP_TOKEN"]
    with warnings.catch_warnings():  # "only works with KFP v2.0.0-beta.2 and later": we target 2.x
        warnings.simplefilter("ignore", FutureWarning)
        return kfp.Client(host=host, namespace=namespace, **auth)


def require_multi_user(client: Any, host: str, namespace: str | None) -> None:
    """Refuse a single-user KFP (its healthz says multi_user false) with what to do instead."""
    if client.get_kfp_healthz().multi_user is not True:
        raise SingleUserKfp(SINGLE_USER_REFUSAL.format(host=host, namespace=namespace))


def image_refs(kfp_settings: Any, image_tag: str | None = None) -> tuple[str, str]:
    """(cpu, gpu) image references a submission runs on.

    The environment's digests (kfp.image / kfp.gpu_image, set from the overlay) win; otherwise
    `image_tag` (a git sha: CI, or the image's own RANKOPS_IMAGE_TAG) re-tags both; otherwise the
    profile's references. An environment with `kfp.require_digest` (staging, prod) takes digests only.
    """
    refs = (kfp_settings.image, kfp_settings.gpu_image)
    if image_tag and not all(is_digest_ref(r) for r in refs):
        refs = tuple(IMAGE_RE.sub(lambda m: f"{m.group(1)}:{image_tag}", ref) for ref in refs)
    loose = [r for r in refs if not is_digest_ref(r)]
    if kfp_settings.require_digest and loose:
        raise ValueError(
            f"this environment runs images pinned by digest only, got {', '.join(loose)}: set "
            "RANKOPS_KFP__IMAGE and RANKOPS_KFP__GPU_IMAGE to REPOSITORY@sha256:DIGEST (the overlay's "
            "digests, which the release workflow sets)")
    return refs[0], refs[1]


TRAIN_FUNCTION = "train_op"  # components/training/component.py
# What the train step asks for when it only creates and follows a TrainJob (it polls the API and prints logs).
FOLLOWER_RESOURCES = {"cpuRequest": 0.5, "cpuLimit": 1.0, "memoryRequest": 1.073741824, "memoryLimit": 2.147483648,
                      "resourceCpuRequest": "500m", "resourceCpuLimit": "1", "resourceMemoryRequest": "1Gi",
                      "resourceMemoryLimit": "2Gi"}


def follow_trainjob(docs: list[dict[str, Any]], image: str) -> None:
    """Turn the train steps of a spec into TrainJob followers (profile `trainjob.enabled`): the job's
    workers hold the GPUs, so the step gets none, no GPU-node placement, the CPU image and a
    follower's CPU and memory; otherwise one GPU would sit idle for the whole job."""
    executors = docs[0].get("deploymentSpec", {}).get("executors", {})
    platform = (docs[1] if len(docs) > 1 else {}).get("platforms", {}).get("kubernetes", {})
    placements = platform.get("deploymentSpec", {}).get("executors", {})
    for label, executor in executors.items():
        container = executor.get("container", {})
        args = container.get("args", [])
        if "--function_to_execute" not in args or args[args.index("--function_to_execute") + 1] != TRAIN_FUNCTION:
            continue
        container["image"] = image
        container["resources"] = dict(FOLLOWER_RESOURCES)
        placement = placements.get(label, {})
        placement.pop("nodeSelector", None)
        placement.pop("tolerations", None)


def prepare_spec(text: str, *, env: str, pipeline_root: str | None, image: str, gpu_image: str,
                 trainjob: bool = False) -> str:
    """The compiled spec as an environment runs it: `env` default, pipeline root, images, and (with
    `trainjob`) train steps that follow a TrainJob instead of training on a GPU node themselves."""
    docs = [d for d in yaml.safe_load_all(repoint_spec(text, image, gpu_image)) if d is not None]
    spec = docs[0]
    params = spec.get("root", {}).get("inputDefinitions", {}).get("parameters", {})
    if "env" in params:
        params["env"]["defaultValue"] = env
    if pipeline_root:
        spec["defaultPipelineRoot"] = pipeline_root
    if trainjob:
        follow_trainjob(docs, image)
    return yaml.safe_dump_all(docs, sort_keys=False)


def kfp_cron(expression: str) -> str:
    """KFP schedules take 6 cron fields (seconds first); accept the usual 5-field form too."""
    fields = expression.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6 or not all(re.fullmatch(r"[0-9*/,?LW#A-Za-z-]+", f) for f in fields):
        raise ValueError(f"invalid cron expression {expression!r}: expected 5 fields (m h dom mon dow) or 6")
    return " ".join(fields)


def _name_filter(name: str) -> str:
    return json.dumps({"predicates": [{"operation": "EQUALS", "key": "display_name", "stringValue": name}]})


def upload_version(client: Any, pipeline: str, package: Path, version: str, description: str = "",
                   namespace: str | None = None) -> tuple[str, str]:
    """(pipeline_id, version_id) of `version` of `pipeline` in `namespace`, uploading only what is missing."""
    found = client.list_pipelines(filter=_name_filter(pipeline), namespace=namespace).pipelines or []
    pipeline_id = next((p.pipeline_id for p in found if p.display_name == pipeline), None)
    if pipeline_id is None:
        created = client.upload_pipeline(str(package), pipeline_name=pipeline, description=description,
                                         namespace=namespace)
        pipeline_id = created.pipeline_id
    existing = client.list_pipeline_versions(pipeline_id=pipeline_id, filter=_name_filter(version))
    for v in existing.pipeline_versions or []:
        if v.display_name == version:
            return pipeline_id, v.pipeline_version_id
    created_version = client.upload_pipeline_version(str(package), pipeline_version_name=version,
                                                     pipeline_id=pipeline_id, description=description)
    return pipeline_id, created_version.pipeline_version_id


def prepared_package(spec: Path, workdir: Path, *, env: str, pipeline_root: str | None, image: str,
                     gpu_image: str, trainjob: bool = False) -> Path:
    """`spec` prepared for one environment (`prepare_spec`), written under `workdir`."""
    out = workdir / spec.name
    out.write_text(prepare_spec(spec.read_text(), env=env, pipeline_root=pipeline_root, image=image,
                                gpu_image=gpu_image, trainjob=trainjob))
    return out


def submit(
    client: Any,
    pipeline: str,
    spec: Path,
    *,
    version: str,
    namespace: str | None,
    experiment: str,
    params: dict[str, Any],
    env: str,
    image: str,
    gpu_image: str,
    pipeline_root: str | None = None,
    schedule: str | None = None,
    service_account: str = SERVICE_ACCOUNT,
    trainjob: bool = False,
) -> Submission:
    """Upload `spec` prepared for `env` as `version`, then start one run, or a recurring run when `schedule` is given."""
    with tempfile.TemporaryDirectory() as tmp:
        package = prepared_package(spec, Path(tmp), env=env, pipeline_root=pipeline_root, image=image,
                                   gpu_image=gpu_image, trainjob=trainjob)
        pipeline_id, version_id = upload_version(client, pipeline, package, version,
                                                 description=f"rankops {pipeline} pipeline ({env})",
                                                 namespace=namespace)
    result = Submission(pipeline=pipeline, pipeline_id=pipeline_id, version_id=version_id,
                        version_name=version, image=image, gpu_image=gpu_image, params=params)
    exp = client.create_experiment(name=experiment, namespace=namespace)
    result.experiment_id = exp.experiment_id
    if schedule:
        result.schedule = kfp_cron(schedule)
        job = client.create_recurring_run(
            experiment_id=exp.experiment_id, job_name=f"{pipeline}-scheduled", cron_expression=result.schedule,
            params=params, pipeline_id=pipeline_id, version_id=version_id, max_concurrency=1, no_catchup=True,
            service_account=service_account)
        result.recurring_run_id = job.recurring_run_id
    else:
        run = client.run_pipeline(experiment_id=exp.experiment_id, job_name=version, params=params,
                                  pipeline_id=pipeline_id, version_id=version_id, service_account=service_account)
        result.run_id = run.run_id
    return result
