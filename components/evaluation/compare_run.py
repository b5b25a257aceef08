"""I/O of the champion/challenger comparison: resolve versions, score both on one frame, decide."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.evaluation.compare import decide
from components.evaluation.report import render_decision_html
from components.evaluation.run import load_frame, score_model, write_json
from components.evaluation.tasks import evaluation_task

if TYPE_CHECKING:
    from components.common.config import Settings


def run_compare(
    settings: Settings,
    challenger: str,
    *,
    champion: str | None = None,
    training_set: str | None = None,
    report_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Compare registered `challenger` with the champion alias (or `champion`), else with BM25.

    Both are scored on the challenger's training set (or `training_set`), so the paired
    test runs over exactly the same queries and candidates. Writes decision.json + decision.md,
    and records the decision as an MLflow run whose id and report hash the decision carries.
    """
    from components.cards.card_io import add_comparison
    from components.evaluation.report import render_decision
    from components.registry.evidence import record_comparison
    from components.registry.lookup import alias_version, resolve_version, use_mlflow, version_uri

    client = use_mlflow(settings)
    name = settings.registry.model_name
    if champion is None:  # when prod reads another registry, its champion is the reference
        from components.promotion.state import follow_target_champion

        follow_target_champion(settings, client)
    ch_version = str(resolve_version(client, name, challenger).version)
    champ_version = str(resolve_version(client, name, champion).version) if champion else alias_version(
        client, name, settings.registry.champion_alias
    )
    if champ_version == ch_version:
        champ_version = None  # comparing the champion with itself says nothing: judge it against BM25
    ch_uri = version_uri(name, ch_version)
    snap, full = load_frame(settings, training_set, ch_uri)
    extra = snap.manifest.get("extra")
    cfg, task = settings.evaluation, evaluation_task(settings)
    ch_eval = task.call("evaluate", full, score_model(ch_uri, full, extra), settings)
    if champ_version:
        ref_eval = task.call("evaluate", full, score_model(version_uri(name, champ_version), full, extra), settings)
        ref_name = f"champion v{champ_version}"
    else:
        ref_eval = task.call("evaluate", full, task.call("baseline", full, settings), settings)
        ref_name = task.baseline_name
    decision = decide(ref_eval, ch_eval, cfg, reference_name=ref_name, challenger_name=f"v{ch_version}")
    decision.update(
        model_name=name,
        challenger_version=ch_version,
        champion_version=champ_version,
        training_set=snap.ref,
        decided_at=datetime.now(UTC).isoformat(),
    )
    decision.update(record_comparison(settings, decision))  # promotion verifies requests against this run
    add_comparison(settings, client, decision)  # the challenger's model card now shows it against the champion
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    out = Path(report_dir) if report_dir else Path(settings.reports_dir) / "compare" / f"v{ch_version}-{stamp}"
    write_json(out / "decision.json", decision)
    (out / "decision.md").write_text(render_decision(decision), encoding="utf-8")
    (out / "decision.html").write_text(render_decision_html(decision, ref_eval["per_query"], ch_eval["per_query"], cfg),
                                       encoding="utf-8")
    decision["report_dir"] = str(out)
    return decision
