"""`promote request`: decision + staging checks, then a git branch that pins the version (the PR)."""

from __future__ import annotations

import getpass
import json
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from components.promotion.records import set_pin
from components.promotion.staging import run_staging_checks
from components.promotion.state import (
    BRANCH_PREFIX,
    PromotionError,
    paths_of,
    push_if_remote,
    read_main,
    repo_of,
)

if TYPE_CHECKING:
    from components.common.config import Settings


def new_request_id(version: str) -> str:
    return f"v{version}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def decision_digest(decision: dict[str, Any]) -> dict[str, Any]:
    """The part of the decision the history keeps (the full report travels as files)."""
    keys = ("promote", "verdict", "metric", "reference", "delta", "p_value", "effect_size", "queries", "reasons")
    out = {k: decision.get(k) for k in keys}
    out["metrics"] = {k: v.get("challenger") for k, v in (decision.get("metrics") or {}).items()}
    return out


def request_promotion(
    settings: Settings, version: str, *, decision: dict[str, Any] | None = None, by: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Compare (unless `decision` is given), run staging checks, open branch promote/<request_id>."""
    from components.evaluation.compare_run import run_compare
    from components.evaluation.report import render_decision
    from components.registry.lookup import alias_version, resolve_version, use_mlflow, version_uri

    client = use_mlflow(settings)
    name = settings.registry.model_name
    version = str(resolve_version(client, name, version).version)
    champion = alias_version(client, name, settings.registry.champion_alias)
    if champion == version:
        raise PromotionError(f"{name} v{version} is already the champion")
    repo = repo_of(settings)
    main = read_main(settings, repo)
    decision = decision if decision is not None else run_compare(settings, version)
    if not decision.get("promote") and settings.promotion.require_positive_decision and not force:
        raise PromotionError(f"compare says keep for v{version}: " + "; ".join(decision.get("reasons", []))
                             + " (use --force to ask a reviewer anyway)")
    staging = run_staging_checks(settings, version_uri(name, version))
    if not staging["passed"]:
        failed = [f"{c['name']}: {c['detail']}" for c in staging["checks"] if not c["passed"]]
        raise PromotionError(f"staging checks failed for v{version}: " + "; ".join(failed))

    request_id = new_request_id(version)
    p = paths_of(settings)
    record = {
        "request_id": request_id, "model_name": name, "version": version, "champion_seen": champion,
        "pin_seen": main.pin, "base_commit": main.tip, "requested_by": by or getpass.getuser(),
        "requested_at": datetime.now(UTC).isoformat(), "decision": decision_digest(decision),
        "staging": staging, "forced": bool(force and not decision.get("promote")),
    }
    files = {
        p.pin: set_pin(main.pin_text, version, name),
        p.request_file(request_id, "request.json"): json.dumps(record, indent=2, sort_keys=True, default=str) + "\n",
        p.request_file(request_id, "decision.json"): json.dumps(decision, indent=2, sort_keys=True, default=str) + "\n",
        p.request_file(request_id, "decision.md"): render_decision(decision) if "slices" in decision else "",
    }
    message = (f"promote {name} v{version} to prod (request {request_id})\n\n"
               f"champion: {champion or 'none'}; {decision.get('metric')} delta {decision.get('delta')}, "
               f"p={decision.get('p_value')}")
    commit = repo.build_commit([main.tip], files, message)
    branch = BRANCH_PREFIX + request_id
    repo.move_branch(branch, commit, None, [])
    pushed = push_if_remote(settings, repo, branch)
    client.set_model_version_tag(name, version, "rankops.promotion_request", request_id)
    return {"request_id": request_id, "branch": branch, "commit": commit, "version": version,
            "champion_seen": champion, "pin_seen": main.pin, "pushed": pushed,
            "decision": {k: decision.get(k) for k in ("promote", "p_value", "delta", "reference")},
            "staging": {k: staging.get(k) for k in ("passed", "queries", "candidates", "latency_p95_ms")}}
