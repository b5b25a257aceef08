"""I/O of the model card: measure and collect a version's facts, write the card, keep it in MLflow.

The card lives as artifacts of the version's training run (`model_card/model_card.md`, `.html`
and the facts as `card.json`); the version tag `rankops.model_card` points at the Markdown. The
comparison step re-renders the stored facts with its result instead of measuring again.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.registry.lookup import TAG_PREFIX

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.tracking import MlflowClient

    from components.common.config import Settings

CARD_DIR = "model_card"
FILES = ("model_card.md", "model_card.html", "card.json")
CARD_TAG = f"{TAG_PREFIX}model_card"


def count_parameters(directory: Path) -> dict[str, int]:
    """Elements and tensors in every safetensors file of a model's artifacts (read from the headers only)."""
    from safetensors import safe_open

    params = tensors = 0
    for path in sorted(directory.rglob("*.safetensors")):
        with safe_open(str(path), framework="numpy") as f:
            for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                shape = f.get_slice(key).get_shape()
                n = 1
                for dim in shape:
                    n *= int(dim)
                params, tensors = params + n, tensors + 1
    return {"parameters": params, "tensors": tensors}


def encoder_config(directory: Path) -> dict[str, Any]:
    """Size of the ELECTRA encoder when the model carries its config."""
    found = sorted(directory.rglob("electra_config.json"))
    if not found:
        return {}
    cfg = json.loads(found[0].read_text(encoding="utf-8"))
    keys = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "vocab_size",
            "max_position_embeddings")
    return {k: cfg[k] for k in keys if k in cfg}


def split_facts(full: pd.DataFrame) -> dict[str, dict[str, int]]:
    return {str(s): {"rows": int(len(g)), "queries": int(g["query_id"].nunique())}
            for s, g in full.groupby(full["split"].astype(str))}


def time_range(full: pd.DataFrame) -> list[str | None]:
    if "event_timestamp" not in full.columns or full["event_timestamp"].isna().all():
        return [None, None]
    return [str(full["event_timestamp"].min()), str(full["event_timestamp"].max())]


def validation_frame(full: pd.DataFrame, max_queries: int) -> pd.DataFrame:
    from components.evaluation.frames import VALIDATION_SPLITS, split_mask

    val = full[split_mask(full, VALIDATION_SPLITS).to_numpy()]
    keep = sorted(val["query_id"].astype(str).unique())[:max_queries]
    return val[val["query_id"].astype(str).isin(keep)].reset_index(drop=True)


def measure(settings: Settings, model_dir: Path, training_set: str | None) -> dict[str, Any]:
    """Evaluation against BM25 on the test split, permutation importance on validation, data facts."""
    from components.cards.importance import permutation_importance, pyfunc_input
    from components.evaluation.evaluate import combine
    from components.evaluation.frames import feature_columns, model_input
    from components.evaluation.run import load_frame, load_pyfunc, score_model
    from components.evaluation.tasks import RANKING, evaluation_task
    from components.registry.lookup import model_metadata

    cfg, card = settings.evaluation, settings.registry.card
    snap, full = load_frame(settings, training_set)
    extra = snap.manifest.get("extra") or {}
    model = load_pyfunc(str(model_dir))
    meta = model_metadata(model)
    features = feature_columns(full, extra, meta)
    task = evaluation_task(settings)  # the project's own metrics and baseline (ranking: ranx vs BM25)
    model_scores, base_scores = score_model(str(model_dir), full, extra, model), task.call("baseline", full, settings)
    evaluation = combine(task.call("evaluate", full, model_scores, settings),
                         task.call("evaluate", full, base_scores, settings), task.baseline_name)
    evaluation["primary_metric"], evaluation["baseline"] = cfg.primary_metric, task.baseline_name
    val = validation_frame(full, card.importance_max_queries)
    if task.name != RANKING.name:  # the importance scorer is a ranking metric over queries
        importance = {"error": f"permutation importance is measured for the ranking task, not {task.name!r}"}
    elif len(val):
        inputs = model_input(val, features, meta.get("defaults") or extra.get("defaults"))
        feats = pyfunc_input(model, inputs, features)
        importance = permutation_importance(val, feats, cfg.primary_metric, relevant_label=cfg.relevant_label,
                                            repeats=card.importance_repeats, seed=card.importance_seed)
    else:
        importance = {"error": f"{snap.ref} has no validation split"}
    lexical = sorted(f["feature"] for f in importance.get("features", []) if f["kind"] == "lexical")
    data = {"training_set": snap.ref, "splits": split_facts(full), "time_range": time_range(full),
            "feature_service": extra.get("feature_service")}
    return {"evaluation": evaluation, "importance": importance, "data": data, "features": features,
            "lexical": sorted(lexical)}


def collect_facts(settings: Settings, client: MlflowClient, name: str, version: str) -> dict[str, Any]:
    """Everything the card states about `name` v`version`, measured now where it is not recorded."""
    import mlflow

    from components.backtest.record import latest_backtest
    from components.common.snapshots import SnapshotNotFound
    from components.evaluation.frames import EvaluationDataError
    from components.evaluation.run import ScoringError
    from components.registry.lineage import lineage

    info = lineage(settings, version)
    card = settings.registry.card
    with tempfile.TemporaryDirectory(prefix="rankops-card-") as tmp:
        model_dir = Path(mlflow.artifacts.download_artifacts(artifact_uri=info["model_uri"], dst_path=tmp))
        size = count_parameters(model_dir)
        encoder = encoder_config(model_dir)
        try:
            measured = measure(settings, model_dir, info["training_set"])
        except (SnapshotNotFound, EvaluationDataError, ScoringError) as exc:
            measured = {"evaluation": {"error": str(exc)}, "importance": {"error": str(exc)}, "data": {},
                        "features": [], "lexical": []}
    data = measured["data"]
    data.setdefault("training_set", info["training_set"])
    data["feature_service"] = info["feature_service"] or data.get("feature_service")
    data["snapshots"] = [{"table": s["table"], "snapshot_id": s["snapshot_id"], "rows": s["row_count"]}
                         for s in info["snapshots"] if "table" in s]
    mon = settings.monitoring
    backtest = latest_backtest(client, settings, data.get("training_set"))
    return {
        "name": name, "version": info["version"], "model_uri": info["model_uri"], "run_id": info["run_id"],
        "registered_at": info["tags"].get(f"{TAG_PREFIX}registered_at"), "git": info["git"],
        "pipeline_run": info["pipeline_run"], "model_kind": info["tags"].get(f"{TAG_PREFIX}model_kind")
        or (client.get_run(info["run_id"]).data.tags.get(f"{TAG_PREFIX}model_kind") if info["run_id"] else None),
        "intended_use": card.intended_use, "out_of_scope": card.out_of_scope,
        "architecture": {**size, "encoder": encoder, "features": measured["features"], "lexical": measured["lexical"]},
        "training_data": data, "params": info["params"], "evaluation": measured["evaluation"],
        "importance": measured["importance"], "comparison": None, "backtest": backtest,
        "runbook": {"approvers": card.approvers,
                    "how": "merge of the promotion pull request" if settings.promotion.forge.kind != "local"
                    else "`rankops promote approve` (local mode)",
                    "monitoring": {k: getattr(mon, k) for k in (
                        "psi_threshold", "ks_pvalue_threshold", "score_psi_threshold", "max_null_share", "ndcg_k",
                        "max_ndcg_drop", "ctr_k", "max_ctr_drop", "retrain_pipeline")}},
    }


def write_card(facts: dict[str, Any], out_dir: str | Path) -> dict[str, str]:
    """model_card.md, model_card.html and card.json in `out_dir`."""
    from components.cards.model_card import render_card, render_card_html
    from components.evaluation.run import write_json

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "model_card.md").write_text(render_card(facts), encoding="utf-8")
    (out / "model_card.html").write_text(render_card_html(facts), encoding="utf-8")
    write_json(out / "card.json", facts)
    return {"markdown": str(out / "model_card.md"), "html": str(out / "model_card.html"), "json": str(out / "card.json")}


def store_card(settings: Settings, client: MlflowClient, facts: dict[str, Any]) -> dict[str, str]:
    """Write the card under the reports folder and log it into the version's run; tag the version."""
    name, version, run_id = facts["name"], facts["version"], facts["run_id"]
    paths = write_card(facts, Path(settings.reports_dir) / "cards" / f"{name}-v{version}")
    client.log_artifacts(run_id, str(Path(paths["markdown"]).parent), CARD_DIR)
    uri = f"{client.get_run(run_id).info.artifact_uri}/{CARD_DIR}/model_card.md"
    client.set_model_version_tag(name, version, CARD_TAG, uri)
    return {**paths, "artifact_uri": uri}


def create_model_card(settings: Settings, client: MlflowClient, name: str, version: str) -> dict[str, str]:
    """The card of a version just registered (kept when the version already has one: reruns reuse it)."""
    if not settings.registry.card.enabled:
        return {"skipped": "disabled in settings (registry.card.enabled)"}
    tags = client.get_model_version(name, version).tags or {}
    if tags.get(CARD_TAG):
        return {"artifact_uri": tags[CARD_TAG], "reused": "true"}
    facts = collect_facts(settings, client, name, version)
    if not facts["run_id"]:
        return {"skipped": f"{name} v{version} has no training run to hold the card"}
    return store_card(settings, client, facts)


def load_card(client: MlflowClient, run_id: str) -> str:
    """The Markdown card kept in `run_id`, read through `client` (whatever store MLflow's globals point at)."""
    with tempfile.TemporaryDirectory(prefix="rankops-card-") as tmp:
        path = client.download_artifacts(run_id, f"{CARD_DIR}/model_card.md", tmp)
        return Path(path).read_text(encoding="utf-8")


def stored_facts(client: MlflowClient, run_id: str) -> dict[str, Any] | None:
    """The facts a card was rendered from (card.json in the run), or None when the run has no card."""
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="rankops-card-") as tmp:
        try:
            path = client.download_artifacts(run_id, f"{CARD_DIR}/card.json", tmp)
        except (MlflowException, OSError):
            return None
        return json.loads(Path(path).read_text(encoding="utf-8"))


def add_comparison(settings: Settings, client: MlflowClient, decision: dict[str, Any]) -> dict[str, str] | None:
    """Re-render the challenger's card with the comparison's result; None when it has no card."""
    from components.registry.lookup import resolve_version

    name = decision["model_name"]
    mv = resolve_version(client, name, decision["challenger_version"])
    facts = stored_facts(client, mv.run_id) if mv.run_id else None
    if facts is None:
        return None
    keys = ("reference", "metric", "delta", "p_value", "stat_test", "queries", "promote", "compare_run_id",
            "champion_version", "training_set", "metrics")
    facts["comparison"] = {k: decision.get(k) for k in keys}
    return store_card(settings, client, facts)


def add_backtest(settings: Settings, client: MlflowClient, version: str) -> dict[str, str] | None:
    """Re-render `version`'s card with the newest backtest of its training set (the run a later
    `rankops backtest --version` just recorded); None when the version has no card."""
    from components.backtest.record import latest_backtest
    from components.registry.lookup import resolve_version

    mv = resolve_version(client, settings.registry.model_name, version)
    facts = stored_facts(client, mv.run_id) if mv.run_id else None
    if facts is None:
        return None
    facts["backtest"] = latest_backtest(client, settings, (facts.get("training_data") or {}).get("training_set"))
    return store_card(settings, client, facts)


def fetch_card(settings: Settings, version: str, dst: str | Path | None = None) -> dict[str, str]:
    """Download the card of `version` (number, vN or alias); the local paths of its files."""
    import mlflow

    from components.registry.lookup import RegistryError, resolve_version, use_mlflow

    client = use_mlflow(settings)
    name = settings.registry.model_name
    mv = resolve_version(client, name, version)
    if not (mv.tags or {}).get(CARD_TAG) or not mv.run_id:
        raise RegistryError(f"{name} v{mv.version} has no model card (registered before cards, or with "
                            "registry.card.enabled false)")
    out = Path(dst) if dst else Path(settings.reports_dir) / "cards" / f"{name}-v{mv.version}"
    out.mkdir(parents=True, exist_ok=True)
    local = Path(mlflow.artifacts.download_artifacts(run_id=mv.run_id, artifact_path=CARD_DIR, dst_path=str(out)))
    return {"markdown": str(local / "model_card.md"), "html": str(local / "model_card.html"),
            "version": str(mv.version)}
