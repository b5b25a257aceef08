"""Copy a registered version into another environment's MLflow registry, lineage and weights intact.

`MlflowClient.copy_model_version` copies between models of one registry (its source must
resolve in the destination registry, and the copy points back at the original's artifacts),
so across two tracking servers the copy is explicit: download the version's package, log it
as a run of the target's promotions experiment, register that run's package, and tag the new
version with where it came from. Only once the weights that landed in the target hash to the
source's is the version tagged with that SHA-256: a version without it (the check failed, or the
process died before it) is no copy of the source, and one whose landed weights differ is deleted
(or, where it cannot be, tagged `copy_rejected`). A second request for the same source version
reuses the checked copy, hashing its weights again first, instead of making another.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.registry.lookup import TAG_PREFIX

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from components.common.config import Settings

# what a family's package holds its learned weights in: ELECTRA's tensors, a LightGBM booster
# (components/training/boosting.py MODEL_FILE: LambdaMART and the gradient-boosted families of projects)
WEIGHT_FILES = ("*.safetensors", "model.txt")
# tags that describe the version's place in the source registry, not its lineage: not copied
LOCAL_TAGS = {f"{TAG_PREFIX}{k}" for k in ("model_uri", "copied_to", "promotion_request", "approved_by", "approved_at",
                                          "promoted_from", "rejected_by", "rolled_back_at", "rolled_back_by",
                                          "writeback_commit", "writeback_pull_request", "copy_rejected")}
# set on a copy only after its landed weights hashed to the source's: what makes a version a copy
WEIGHTS_TAG = f"{TAG_PREFIX}weights_sha256"
# a copy whose landed weights turned out to differ from its source's: never reused, never a copy
REJECTED_TAG = f"{TAG_PREFIX}copy_rejected"


class TransferError(RuntimeError):
    """The copy into the target registry failed or does not match its source (nothing is pinned to it)."""


def public_uri(uri: str) -> str:
    """A tracking URI fit for a tag: credentials in it are masked."""
    return re.sub(r"://[^/@\s]+@", "://***@", uri)


def weights_digest(model_dir: str | Path) -> str:
    """SHA-256 over the package's weight files: each relative path and its bytes, in path order."""
    root = Path(model_dir)
    files = sorted({p for pattern in WEIGHT_FILES for p in root.rglob(pattern)})
    if not files:
        raise TransferError(f"no weight files ({', '.join(WEIGHT_FILES)}) in the model package at {root}")
    outer = hashlib.sha256()
    for path in files:
        inner = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                inner.update(block)
        outer.update(f"{path.relative_to(root).as_posix()}\0{inner.hexdigest()}\n".encode())
    return outer.hexdigest()


def download_version(client: MlflowClient, name: str, version: str, dst: str) -> str:
    """The version's model package downloaded under `dst` (the directory holding MLmodel)."""
    import mlflow

    uri = client.get_model_version_download_uri(name, version)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=dst,
                                                     tracking_uri=client.tracking_uri))
    if not (local / "MLmodel").exists():
        found = sorted(local.rglob("MLmodel"))
        if not found:
            raise TransferError(f"{name} v{version}: no MLmodel in its package ({uri})")
        local = found[0].parent
    return str(local)


def registry_client(uri: str) -> MlflowClient:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def with_credentials(uri: str, username: str, password: str) -> str:
    """`uri` with basic-auth user info: requests sends it to that server only (over MLflow's global env creds)."""
    from urllib.parse import quote, urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        raise TransferError(f"credentials for the target registry need an http(s) tracking URI, got {public_uri(uri)}")
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{parts.netloc.rpartition('@')[2]}"
    return urlunsplit(parts._replace(netloc=netloc))


def target_client(settings: Settings, environ: dict[str, str] | None = None) -> MlflowClient:
    """A client of `promotion.target` with its own credentials (`username_env`/`password_env`) when they are set.

    MLFLOW_TRACKING_USERNAME/PASSWORD are process-wide and belong to this environment's server;
    the target's pair travels in the URI, so each server only ever sees its own.
    """
    cfg = settings.promotion.target
    env = os.environ if environ is None else environ
    username, password = env.get(cfg.username_env, ""), env.get(cfg.password_env, "")
    if bool(username) != bool(password):
        missing = cfg.password_env if username else cfg.username_env
        raise TransferError(f"credentials for {public_uri(cfg.tracking_uri)}: ${missing} is empty while "
                            f"${cfg.username_env if username else cfg.password_env} is set; set both or neither")
    return registry_client(with_credentials(cfg.tracking_uri, username, password) if username else cfg.tracking_uri)


def version_weights(client: MlflowClient, name: str, version: str) -> str:
    with tempfile.TemporaryDirectory(prefix="rankops-weights-") as tmp:
        return weights_digest(download_version(client, name, version, tmp))


def existing_copy(target: MlflowClient, name: str, source: str, version: str) -> Any:
    """The version of `name` in `target` that is a checked copy of `source`'s `version` (None if none is).

    A version counts only once its weights were checked (WEIGHTS_TAG set) and never after it was rejected.
    """
    from mlflow.exceptions import MlflowException

    try:
        versions = target.search_model_versions(f"name='{name}'")
    except MlflowException:
        return None
    for mv in versions:
        tags = mv.tags or {}
        if (tags.get(f"{TAG_PREFIX}source_registry") == source and tags.get(f"{TAG_PREFIX}source_version") == version
                and tags.get(WEIGHTS_TAG) and REJECTED_TAG not in tags):
            return mv
    return None


def target_experiment(settings: Settings, target: MlflowClient) -> str:
    cfg = settings.promotion.target
    exp = target.get_experiment_by_name(cfg.experiment)
    if exp is not None:
        return exp.experiment_id
    location = settings.resolve(cfg.artifact_location) if cfg.artifact_location else None
    return target.create_experiment(cfg.experiment, artifact_location=location)


def reject_copy(target: MlflowClient, name: str, version: str, reason: str, *, delete: bool) -> None:
    """Take `version` out of the copies: deleted when `delete` (a version nothing can have pinned yet),
    else (or where deleting is refused) tagged REJECTED_TAG with `reason` and stripped of WEIGHTS_TAG."""
    from mlflow.exceptions import MlflowException

    if delete:
        with suppress(MlflowException):  # refused: marked below instead
            target.delete_model_version(name, version)
            return
    target.set_model_version_tag(name, version, REJECTED_TAG, reason)
    with suppress(MlflowException):  # not set: the rejection tag alone keeps it out
        target.delete_model_version_tag(name, version, WEIGHTS_TAG)


def copy_version(settings: Settings, source: MlflowClient, name: str, version: str) -> dict[str, Any]:
    """Copy `name` v`version` into `promotion.target`; returns the target version and the weights hash."""
    from mlflow.exceptions import MlflowException

    cfg = settings.promotion.target
    target = target_client(settings)
    source_id = public_uri(settings.tracking_uri)
    src = source.get_model_version(name, version)
    with tempfile.TemporaryDirectory(prefix="rankops-copy-") as tmp:
        package = download_version(source, name, version, tmp)
        digest = weights_digest(package)
        while (found := existing_copy(target, name, source_id, version)) is not None:
            if (found.tags or {}).get(WEIGHTS_TAG) != digest:
                raise TransferError(f"{name} v{found.version} in {public_uri(cfg.tracking_uri)} claims to copy "
                                    f"v{version} but its recorded weights differ; remove it or copy by hand")
            # the tag says what was checked then (or, on copies made before the check came first, only what
            # was meant): what is there now is what prod would serve, so it is hashed again
            landed = version_weights(target, name, str(found.version))
            if landed == digest:
                return {"version": str(found.version), "weights_sha256": digest, "copied": False,
                        "target_registry": public_uri(cfg.tracking_uri)}
            reject_copy(target, name, str(found.version), f"weights hash {landed} differs from the source's {digest}",
                        delete=False)  # it may be pinned already: kept, marked, and replaced by a fresh copy
        lineage = {k: v for k, v in (src.tags or {}).items()
                   if k.startswith(TAG_PREFIX) and k not in LOCAL_TAGS and k != WEIGHTS_TAG}
        provenance = {f"{TAG_PREFIX}source_registry": source_id, f"{TAG_PREFIX}source_version": str(version),
                      f"{TAG_PREFIX}source_run_id": src.run_id or "", f"{TAG_PREFIX}source_env": settings.env,
                      f"{TAG_PREFIX}source_model_uri": f"models:/{name}/{version}"}
        run = target.create_run(target_experiment(settings, target),
                                tags={**lineage, **provenance, "mlflow.runName": f"{name} v{version} from {settings.env}"})
        try:
            target.log_artifacts(run.info.run_id, package, "model")
        except BaseException:
            target.set_terminated(run.info.run_id, "FAILED")
            raise
        target.set_terminated(run.info.run_id, "FINISHED")
    try:
        target.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    # no WEIGHTS_TAG yet: until the check below passes, this version is no copy (existing_copy skips it)
    mv = target.create_model_version(name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id,
                                     tags={**lineage, **provenance},
                                     description=f"copy of {name} v{version} from {source_id} ({settings.env})")
    landed = version_weights(target, name, str(mv.version))
    if landed != digest:
        reason = f"weights hash {landed} differs from the source's {digest}"
        reject_copy(target, name, str(mv.version), reason, delete=True)  # just made: nothing has pinned it
        with suppress(MlflowException):  # the run stays, saying why it is no copy
            target.set_tag(run.info.run_id, REJECTED_TAG, reason)
        raise TransferError(f"{name} v{mv.version} in {public_uri(cfg.tracking_uri)}: {reason}; do not pin it")
    target.set_model_version_tag(name, str(mv.version), WEIGHTS_TAG, landed)
    source.set_model_version_tag(name, version, f"{TAG_PREFIX}copied_to",
                                 f"{public_uri(cfg.tracking_uri)}#{mv.version}")
    return {"version": str(mv.version), "weights_sha256": digest, "copied": True,
            "target_registry": public_uri(cfg.tracking_uri)}
