"""`rankops monitor`: quality, drift and live performance of a current window against a reference.

`assess` is the verdict and writes nothing; `run_monitor` adds the report and the breach event;
`recheck` re-runs the verdict on an event's recorded inputs, so the retraining trigger only
fires on a breach that the monitor raises again on the same input.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.common.contract import TEXT_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from components.common.config import Settings

NOT_FEATURES = {"label", "score", "query_id", "video_id", "event_timestamp", "split"}


class MonitorInputError(ValueError):
    """A reference or current window that cannot be read; the message names it."""


@dataclass
class Window:
    """Rows of one side, the refs they came from, their content hashes and the last manifest's extra."""

    frame: pd.DataFrame
    refs: list[str]
    hashes: list[str]
    extra: dict[str, Any]


def load_window(settings: Settings, spec: str) -> Window:
    """`table[@id]`, `table@last:N`, `table@since:DATE`, a Parquet dir, or several of them joined by commas."""
    import pandas as pd

    parts = [_load_one(settings, s.strip()) for s in spec.split(",") if s.strip()]
    if not parts:
        raise MonitorInputError(f"{spec!r}: no window given")
    if len(parts) == 1:
        return parts[0]
    return Window(pd.concat([p.frame for p in parts], ignore_index=True), [r for p in parts for r in p.refs],
                  [h for p in parts for h in p.hashes], parts[-1].extra)


def _load_one(settings: Settings, spec: str) -> Window:
    import pandas as pd

    from components.common.snapshots import SnapshotNotFound, SnapshotStore, content_hash

    if os.path.isdir(spec):
        df = pd.read_parquet(spec)
        return Window(df, [os.path.abspath(spec)], [content_hash(df)[2]], {})
    lake = SnapshotStore(settings.lakehouse)
    table, _, sel = spec.partition("@")
    try:
        if sel.startswith(("last:", "since:")):
            snaps = lake.list(table)
            if sel.startswith("last:"):
                n = int(sel[5:])
                if n < 1:
                    raise ValueError("last:N needs N >= 1")
                snaps = snaps[-n:]
            else:
                since = pd.Timestamp(sel[6:], tz="UTC")
                snaps = [s for s in snaps if pd.Timestamp(s.manifest["created_at"]) >= since]
            if not snaps:
                raise SnapshotNotFound(f"no snapshots of {table!r} match {sel!r} under {lake.root}")
        else:
            snaps = [lake.resolve(spec)]
    except (SnapshotNotFound, ValueError) as exc:
        raise MonitorInputError(f"{spec}: {exc}") from None
    frames = [SnapshotStore.read_pandas(s) for s in snaps]
    return Window(pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0], [s.ref for s in snaps],
                  [s.manifest["content_hash"] for s in snaps], dict(snaps[-1].manifest.get("extra") or {}))


def monitored_columns(ref: pd.DataFrame, cur: pd.DataFrame, extra: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """(numeric features, text columns) present on both sides, and every column the manifests list."""
    import pandas as pd

    listed = list(extra.get("features") or [])
    if not listed:
        listed = [c for c in ref.columns if c not in NOT_FEATURES and pd.api.types.is_numeric_dtype(ref[c])]
    listed_text = list(extra.get("text_columns") or TEXT_COLUMNS)
    numeric = [c for c in listed if c in ref.columns and c in cur.columns]
    text = [c for c in listed_text if c in ref.columns and c in cur.columns]
    required = listed + [c for c in listed_text if c in ref.columns]
    return numeric, text, required


def fill_defaults_of(settings: Settings, ref: Window, cur: Window) -> tuple[dict[str, float], str]:
    """The feature defaults (the training set manifest records them) and where they were read."""
    from components.common.snapshots import SnapshotNotFound, SnapshotStore

    for window in (ref, cur):
        if window.extra.get("defaults"):
            return dict(window.extra["defaults"]), f"the {window.refs[-1]} manifest (feature view default tags)"
    service = cur.extra.get("feature_service") or ref.extra.get("feature_service") or settings.serving.feature_service
    try:
        snap = SnapshotStore(settings.lakehouse).latest(f"features/training_set_{service}")
    except SnapshotNotFound:
        return {}, "nowhere (no training set manifest)"
    return dict(snap.manifest.get("extra", {}).get("defaults") or {}), f"the {snap.ref} manifest (feature view default tags)"


def _breach(check: str, value: Any, threshold: Any, message: str, source: str,
            inputs: list[str], examples: list | None = None) -> dict[str, Any]:
    return {"check": check, "value": value, "threshold": threshold, "source": source, "message": message,
            "inputs": inputs, "examples": examples or []}


def _drift_text(d) -> str:
    if d.kind == "numeric":
        return f"{d.column} (PSI {d.psi:.3f}, KS p {d.ks_pvalue:.2g}, per {d.unit})"
    return f"{d.column} (chi-square p {d.chi2_pvalue:.2g}, per {d.unit})"


def evaluate(ref: pd.DataFrame, cur: pd.DataFrame, *, numeric: list[str], text: list[str], settings: Settings,
             required: list[str] | None = None, defaults: dict[str, float] | None = None,
             defaults_from: str = "", extra_quality: list | None = None,
             inputs: list[str] | None = None) -> dict[str, Any]:
    """The verdict as a dict (pure: frames in, numbers and breaches out).

    `inputs` are the content hashes of both windows; a breach carries the inputs it depends on
    (gold checks: the gold snapshot), which is what its event's identity hashes.
    """
    from components.monitoring.domains import domains_for
    from components.monitoring.drift import feature_drift, numeric_drift
    from components.monitoring.performance import ctr_at_k, ndcg_at_k
    from components.monitoring.quality import check_quality, profile_key

    cfg, env = settings.monitoring, settings.env
    inputs = list(inputs or [])
    domains = domains_for(numeric, defaults or {}, defaults_from)
    quality = check_quality(cur, required if required is not None else numeric + text, cfg, domains=domains,
                            profile=env, reference=ref, unbounded=[c for c in numeric if c not in domains])
    breaches = [_breach(f"quality:{q.name}", q.value, q.threshold, q.message, q.source, inputs, q.examples)
                for q in quality if not q.passed]
    for q in extra_quality or []:
        if not q.passed:  # a gold check depends on its gold snapshot only, not on the windows
            breaches.append(_breach(f"quality:{q.name}", q.value, q.threshold, q.message, q.source,
                                    [q.name.split(":")[1]], q.examples))
    quality += list(extra_quality or [])
    drift = feature_drift(ref, cur, numeric=numeric, text=text, psi_threshold=cfg.psi_threshold,
                          ks_threshold=cfg.ks_pvalue_threshold, chi2_threshold=cfg.categorical_pvalue_threshold)
    drifted = [d for d in drift if d.drifted]
    share = len(drifted) / len(drift) if drift else 0.0
    if drift and share >= cfg.drift_share_threshold:
        src = (f"{profile_key(env, 'drift_share_threshold')}; per column PSI > {cfg.psi_threshold} "
               f"({profile_key(env, 'psi_threshold')}) and KS p < {cfg.ks_pvalue_threshold} "
               f"({profile_key(env, 'ks_pvalue_threshold')}), text chi-square p < {cfg.categorical_pvalue_threshold} "
               f"({profile_key(env, 'categorical_pvalue_threshold')})")
        breaches.append(_breach("feature_drift", round(share, 4), cfg.drift_share_threshold,
                                f"{len(drifted)} of {len(drift)} columns drifted, share {share:.3f} >= "
                                f"{cfg.drift_share_threshold}: {', '.join(_drift_text(d) for d in drifted)} ({src})",
                                src, inputs, [{"column": d.column} for d in drifted]))
    score = None
    if "score" in ref.columns and "score" in cur.columns:
        score = numeric_drift("score", ref["score"].to_numpy(dtype="float64"), cur["score"].to_numpy(dtype="float64"),
                              psi_threshold=cfg.score_psi_threshold, ks_threshold=cfg.ks_pvalue_threshold)
        if score.drifted:
            src = f"{profile_key(env, 'score_psi_threshold')}, {profile_key(env, 'ks_pvalue_threshold')}"
            breaches.append(_breach("score_drift", score.psi, cfg.score_psi_threshold,
                                    f"score PSI {score.psi:.3f} > {cfg.score_psi_threshold} and KS p {score.ks_pvalue:.2g} "
                                    f"< {cfg.ks_pvalue_threshold}; mean {score.reference_mean:.4f} -> "
                                    f"{score.current_mean:.4f} over {len(cur)} rows ({src})", src, inputs))
    perf: dict[str, Any] = {"k": cfg.ndcg_k, "ctr_k": cfg.ctr_k, "ndcg_current": None, "ndcg_reference": None,
                            "ctr_current": None, "ctr_reference": None, "queries_current": 0}
    if "score" in cur.columns and "label" in cur.columns:
        perf["ndcg_current"], perf["queries_current"] = ndcg_at_k(cur, cfg.ndcg_k)
    if "score" in ref.columns and "label" in ref.columns:
        perf["ndcg_reference"], _ = ndcg_at_k(ref, cfg.ndcg_k)
    if "score" in cur.columns:
        perf["ctr_current"] = ctr_at_k(cur, cfg.ctr_k)
    if "score" in ref.columns:
        perf["ctr_reference"] = ctr_at_k(ref, cfg.ctr_k)
    now, before, k, n = perf["ndcg_current"], perf["ndcg_reference"], cfg.ndcg_k, perf["queries_current"]
    if now is not None and before is not None and now < before - cfg.max_ndcg_drop:
        src = profile_key(env, "max_ndcg_drop")
        breaches.append(_breach("ndcg_drop", round(before - now, 6), cfg.max_ndcg_drop,
                                f"NDCG@{k} fell from {before:.4f} (reference) to {now:.4f} on {n} queries: drop "
                                f"{before - now:.4f} > {cfg.max_ndcg_drop} ({src})", src, inputs))
    if now is not None and now < cfg.min_ndcg:
        src = profile_key(env, "min_ndcg")
        breaches.append(_breach("ndcg_floor", round(now, 6), cfg.min_ndcg,
                                f"NDCG@{k} {now:.4f} on {n} queries < {cfg.min_ndcg} ({src})", src, inputs))
    c_now, c_before = perf["ctr_current"], perf["ctr_reference"]
    if c_now is not None and c_before and c_now < c_before * (1 - cfg.max_ctr_drop):
        src = profile_key(env, "max_ctr_drop")
        breaches.append(_breach("ctr_drop", round(1 - c_now / c_before, 6), cfg.max_ctr_drop,
                                f"CTR@{cfg.ctr_k} fell from {c_before:.4f} (reference) to {c_now:.4f}: relative drop "
                                f"{1 - c_now / c_before:.3f} > {cfg.max_ctr_drop} ({src})", src, inputs))
    return {"breach": bool(breaches), "breaches": breaches, "quality": [q.to_dict() for q in quality],
            "drift": {"columns": len(drift), "drifted": len(drifted), "share": round(share, 4),
                      "per_column": [d.to_dict() for d in drift]},
            "score_drift": score.to_dict() if score else None, "performance": perf}


def assess(settings: Settings, *, reference: str, current: str, gold_quality: bool = True,
           gold_snapshots: dict[str, str] | None = None) -> tuple[dict[str, Any], Window, Window, list[str], list[str]]:
    """Load both windows and evaluate; writes nothing. Returns (result, ref, cur, numeric, text)."""
    from components.monitoring.alerts import breach_id_of

    ref, cur = load_window(settings, reference), load_window(settings, current)
    numeric, text, required = monitored_columns(ref.frame, cur.frame, {**ref.extra, **cur.extra})
    if not numeric:
        raise MonitorInputError(f"{reference} and {current} share no numeric feature columns")
    extra_quality, gold_refs = [], []
    if gold_quality:
        from components.monitoring.quality import check_gold_batch

        extra_quality, gold_refs = check_gold_batch(settings, gold_snapshots)
    defaults, defaults_from = fill_defaults_of(settings, ref, cur)
    result = evaluate(ref.frame, cur.frame, numeric=numeric, text=text, settings=settings, required=required,
                      defaults=defaults, defaults_from=defaults_from, extra_quality=extra_quality,
                      inputs=ref.hashes + cur.hashes)
    result.update(reference=",".join(ref.refs), current=",".join(cur.refs),
                  rows={"reference": len(ref.frame), "current": len(cur.frame)},
                  model_version=cur.extra.get("model_version"),
                  inputs={"reference": ref.refs, "current": cur.refs, "gold": gold_refs if gold_quality else None},
                  breach_id=breach_id_of(result["breaches"]) if result["breach"] else None)
    return result, ref, cur, numeric, text


def recheck(settings: Settings, event: dict[str, Any]) -> dict[str, Any]:
    """The verdict again on an event's recorded inputs (gold pinned to the snapshots it saw)."""
    inputs = event.get("inputs")
    if not inputs:
        raise MonitorInputError(f"event {event.get('breach_id')} records no inputs to re-check (written by an older "
                                "rankops): run the monitor on its windows again")
    gold = inputs.get("gold")
    pinned = dict(ref.split("@", 1) for ref in gold) if gold else None
    result, *_ = assess(settings, reference=",".join(inputs["reference"]), current=",".join(inputs["current"]),
                        gold_quality=gold is not None, gold_snapshots=pinned)
    return result


def run_monitor(settings: Settings, *, reference: str, current: str, report_dir: str | None = None,
                html: bool = True, gold_quality: bool = True) -> dict[str, Any]:
    """Evaluate, write report.html + monitoring.json, record a breach event and the run in the monitor's
    history (the report's drift over time); returns the summary."""
    from components.monitoring.alerts import record_breach
    from components.monitoring.history import append_history, drift_history_html, history_entry, history_path
    from components.monitoring.report import write_report

    result, ref, cur, numeric, text = assess(settings, reference=reference, current=current, gold_quality=gold_quality)
    run_key = hashlib.sha256(f"{result['reference']}|{result['current']}".encode()).hexdigest()[:12]
    out = Path(report_dir or Path(settings.reports_dir) / "monitoring" / run_key)
    page = None
    if html:
        from components.monitoring.report import evidently_report

        page, result["evidently"] = evidently_report(ref.frame, cur.frame, numeric=numeric, text=text,
                                                     cfg=settings.monitoring)
    event = None
    if result["breach"]:
        path, created = record_breach(settings, result, report=str(out / "report.html"))
        event = {"path": str(path), "breach_id": path.stem, "created": created}
    result["event"] = event
    runs, damaged = append_history(history_path(settings), history_entry(result))
    result["report"] = write_report(out, result, page,
                                    drift_history_html(runs, settings.monitoring, damaged) if html else "")
    return result
