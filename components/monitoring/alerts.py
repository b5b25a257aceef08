"""Breach events and the retraining trigger, fired exactly once per breach.

A breach is written as `<reports>/monitoring/events/<breach_id>.json`. The breach id hashes each
failed check with the content of the inputs it depends on (both windows' content hashes; a gold
check's gold snapshot), so monitoring the same data again, under another name, as a re-written
snapshot or a copied Parquet folder, finds the same event instead of creating a second one.
Acting on an event first creates `<breach_id>.claim` with O_EXCL: only the process that wins it
goes on. It then re-runs the verdict on the event's recorded inputs (`run.recheck`) and starts
training only when the same breach comes back; one that does not (the profile changed, a
Parquet folder was rewritten) is closed as `not_reproduced`: `act` on pending events passes it
by, `monitor act <breach_id>` re-checks it once more.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.common.config import Settings

Trigger = Callable[[dict[str, Any]], dict[str, Any]]
Recheck = Callable[["Settings", dict[str, Any]], dict[str, Any]]


def events_dir(settings: Settings) -> Path:
    return Path(settings.reports_dir) / "monitoring" / "events"


def breach_id_of(breaches: list[dict[str, Any]]) -> str:
    """Same failed checks on the same inputs (by content) -> same id, however the windows were named."""
    payload = json.dumps(sorted([b["check"], sorted(b["inputs"])] for b in breaches), sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def record_breach(settings: Settings, result: dict[str, Any], report: str | None = None) -> tuple[Path, bool]:
    """Write the alert record once; returns (path, created): created is False for a known breach.

    Created with a hard link from a temp file: atomic and exclusive, so a concurrent monitor
    run never overwrites an event that was already acted on.
    """
    bid = breach_id_of(result["breaches"])
    folder = events_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{bid}.json"
    if path.exists():
        return path, False
    tmp = folder / f".{bid}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({
        "breach_id": bid, "created_at": datetime.now(UTC).isoformat(), "status": "pending",
        "reference": result["reference"], "current": result["current"], "inputs": result["inputs"],
        "breaches": result["breaches"], "report": report, "env": settings.env, "trigger": None,
    }, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return path, False
    finally:
        tmp.unlink(missing_ok=True)
    return path, True


def list_events(settings: Settings, status: str | None = None) -> list[dict[str, Any]]:
    folder = events_dir(settings)
    if not folder.exists():
        return []
    events = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]
    return [e for e in events if status is None or e.get("status") == status]


def act_on_event(settings: Settings, breach_id: str, trigger: Trigger, recheck: Recheck | None = None) -> dict[str, Any]:
    """Start retraining for one breach unless it already was or does not reproduce; a failed trigger can be retried."""
    folder = events_dir(settings)
    path = folder / f"{breach_id}.json"
    if not path.exists():
        raise FileNotFoundError(f"no monitoring event {breach_id} under {folder}")
    claim = folder / f"{breach_id}.claim"
    try:
        fd = os.open(claim, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return {"breach_id": breach_id, "fired": False, "reason": "already triggered"}
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    event = json.loads(path.read_text(encoding="utf-8"))
    if recheck is None:
        from components.monitoring.run import recheck
    try:
        again = recheck(settings, event)
    except Exception:
        claim.unlink(missing_ok=True)  # inputs unreadable now: a later `act` may retry
        raise
    if again.get("breach_id") != breach_id:
        checks = [b["check"] for b in again["breaches"]]
        event.update(status="not_reproduced", trigger={"recheck": {"breach_id": again.get("breach_id"),
                                                                   "checks": checks},
                                                       "at": datetime.now(UTC).isoformat()})
        _write_atomic(path, event)
        claim.unlink(missing_ok=True)  # closed, not spent: `monitor act <id>` re-checks it again
        return {"breach_id": breach_id, "fired": False,
                "reason": f"not reproduced on the same input (now: {checks or 'no breach'})"}
    try:
        result = trigger(event)
    except Exception as exc:
        claim.unlink(missing_ok=True)  # let a later `act` retry
        event.update(status="trigger_failed", trigger={"error": str(exc)})
        _write_atomic(path, event)
        raise
    event.update(status="triggered", trigger={**result, "at": datetime.now(UTC).isoformat()})
    _write_atomic(path, event)
    return {"breach_id": breach_id, "fired": True, **result}


def act_on_pending(settings: Settings, trigger: Trigger, recheck: Recheck | None = None) -> list[dict[str, Any]]:
    """Act on every pending (or previously failed) event, oldest first."""
    return [act_on_event(settings, e["breach_id"], trigger, recheck)
            for e in list_events(settings) if e.get("status") in ("pending", "trigger_failed")]


def kfp_trigger(settings: Settings, client_factory: Callable[..., Any] | None = None,
                package: str | None = None) -> Trigger:
    """A trigger that submits the training pipeline to the KFP API (run name carries the breach id).

    It authenticates with the projected ServiceAccount token (`pipelines.submit.kfp_client`) and runs
    the spec on the images this step itself was submitted with (kfp.image / kfp.gpu_image, by digest
    in staging and prod), prepared for this environment.
    """

    def fire(event: dict[str, Any]) -> dict[str, Any]:
        import tempfile

        from pipelines import __file__ as pipelines_init
        from pipelines.submit import SERVICE_ACCOUNT, image_refs, kfp_client, prepared_package

        spec = Path(package or Path(pipelines_init).parent / "compiled" / f"{settings.monitoring.retrain_pipeline}.yaml")
        if not spec.exists():
            raise FileNotFoundError(f"compiled pipeline {spec} not found (run `make compile`)")
        image, gpu_image = image_refs(settings.kfp)
        client = (client_factory or kfp_client)(host=settings.kfp.host, namespace=settings.kfp.namespace)
        root = settings.kfp.pipeline_root
        with tempfile.TemporaryDirectory() as tmp:
            prepared = prepared_package(spec, Path(tmp), env=settings.env, pipeline_root=root if "://" in root else None,
                                        image=image, gpu_image=gpu_image, trainjob=settings.trainjob.enabled)
            run = client.create_run_from_pipeline_package(
                pipeline_file=str(prepared), arguments={"env": settings.env},
                run_name=f"retrain-{event['breach_id']}", experiment_name=f"rankops-{settings.env}-retrain",
                namespace=settings.kfp.namespace, enable_caching=False, service_account=SERVICE_ACCOUNT)
        return {"mode": "kfp", "run_id": getattr(run, "run_id", None), "pipeline": str(spec), "image": image,
                "gpu_image": gpu_image}

    return fire


def local_trigger(settings: Settings, train: Callable[..., Any] | None = None) -> Trigger:
    """A trigger that runs training in this process (the local profile has no KFP)."""

    def fire(event: dict[str, Any]) -> dict[str, Any]:
        fn = train
        if fn is None:
            from components.training.api import train as fn
        result = fn(settings, tags={"trigger": "monitoring", "breach_id": event["breach_id"]})
        return {"mode": "local", "run_id": getattr(result, "run_id", None),
                "model_uri": getattr(result, "model_uri", None)}

    return fire


def default_trigger(settings: Settings) -> Trigger:
    mode = settings.monitoring.trigger_mode
    if mode == "auto":
        mode = "kfp" if settings.kfp.host else "local"
    if mode == "none":
        return lambda event: {"mode": "none"}
    return kfp_trigger(settings) if mode == "kfp" else local_trigger(settings)
