"""The I/O side of the promotion KFP component."""

from __future__ import annotations

import json
from pathlib import Path

from components.common.kfp_step import kfp_step


def evidence_path(settings, online_evidence: str) -> Path | None:
    """The report the operator named: "" = none; a relative path is under `storage.reports`
    (in the cluster /mnt/lakehouse/reports, on the lakehouse volume every step mounts)."""
    if not online_evidence.strip():
        return None
    path = Path(online_evidence.strip())
    return path if path.is_absolute() else Path(settings.reports_dir) / path


@kfp_step
def run_promotion_request_op(version: str, decision, *, env: str = "local", requested_by: str = "pipeline",
                             online_evidence: str = "") -> str:
    from components.common.config import load_settings
    from components.promotion.request import request_promotion

    settings = load_settings(env)
    with open(decision.path, encoding="utf-8") as fh:
        loaded = json.load(fh)
    return request_promotion(settings, version, decision=loaded, by=requested_by,
                             online_evidence=evidence_path(settings, online_evidence))["request_id"]
