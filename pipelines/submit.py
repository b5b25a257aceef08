"""Upload pipeline versions to KFP and start runs or recurring runs (the `submit` and `upload` commands).

A version is named `<pipeline>-<git sha[:12]>` (plus `-dirty` for uncommitted trees), so the KFP
dashboard says which commit a run came from, and uploading the same commit twice reuses it.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pipelines.compile import retag_spec

SERVICE_ACCOUNT = "rankops-pipeline-runner"  # manifests/base/rbac.yaml


@dataclass
class Submission:
    """What `submit` created; also the `--summary` JSON."""

    pipeline: str
    pipeline_id: str
    version_id: str
    version_name: str
    image_tag: str | None = None
    experiment_id: str | None = None
    run_id: str | None = None
    recurring_run_id: str | None = None
    schedule: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def version_name(pipeline: str, sha: str | None, dirty: bool = False) -> str:
    """`<pipeline>-<sha12>[-dirty]`; `<pipeline>-nogit` outside a git checkout."""
    suffix = sha[:12] if sha else "nogit"
    return f"{pipeline}-{suffix}{'-dirty' if dirty else ''}"


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


def upload_version(client: Any, pipeline: str, package: Path, version: str, description: str = "") -> tuple[str, str]:
    """(pipeline_id, version_id) of `version` of `pipeline`, uploading only what is missing."""
    pipeline_id = client.get_pipeline_id(pipeline)
    if pipeline_id is None:
        created = client.upload_pipeline(str(package), pipeline_name=pipeline, description=description)
        pipeline_id = created.pipeline_id
    existing = client.list_pipeline_versions(pipeline_id=pipeline_id, filter=_name_filter(version))
    for v in existing.pipeline_versions or []:
        if v.display_name == version:
            return pipeline_id, v.pipeline_version_id
    created_version = client.upload_pipeline_version(str(package), pipeline_version_name=version,
                                                     pipeline_id=pipeline_id, description=description)
    return pipeline_id, created_version.pipeline_version_id


def prepared_package(spec: Path, image_tag: str | None, workdir: Path) -> Path:
    """The compiled spec to upload, re-pointed at `image_tag` when given."""
    if not image_tag:
        return spec
    out = workdir / spec.name
    out.write_text(retag_spec(spec.read_text(), image_tag))
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
    schedule: str | None = None,
    image_tag: str | None = None,
    service_account: str = SERVICE_ACCOUNT,
) -> Submission:
    """Upload `spec` as `version`, then start one run, or a recurring run when `schedule` is given."""
    with tempfile.TemporaryDirectory() as tmp:
        package = prepared_package(spec, image_tag, Path(tmp))
        pipeline_id, version_id = upload_version(client, pipeline, package, version,
                                                 description=f"rankops {pipeline} pipeline")
    result = Submission(pipeline=pipeline, pipeline_id=pipeline_id, version_id=version_id,
                        version_name=version, image_tag=image_tag, params=params)
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
