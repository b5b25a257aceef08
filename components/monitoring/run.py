"""`rankops monitor`: quality, drift and live performance of a current window against a reference."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.etl.contract import TEXT_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from components.common.config import Settings

NOT_FEATURES = {"label", "score", "query_id", "video_id", "event_timestamp", "split"}


class MonitorInputError(ValueError):
    """A reference or current window that cannot be read; the message names it."""


def load_window(settings: Settings, spec: str) -> tuple[pd.DataFrame, list[str], dict[str, Any]]:
    """(rows, snapshot refs, manifest extra) of `table[@id]`, `table@last:N`, `table@since:DATE` or a dir."""
    import pandas as pd

    from components.common.snapshots import SnapshotNotFound, SnapshotStore

    if os.path.isdir(spec):
        return pd.read_parquet(spec), [os.path.abspath(spec)], {}
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
    df = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return df, [s.ref for s in snaps], dict(snaps[-1].manifest.get("extra") or {})


def monitored_columns(ref: pd.DataFrame, cur: pd.DataFrame, extra: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(numeric features, text columns) present on both sides; feature order from the manifest."""
    import pandas as pd

    listed = list(extra.get("features") or [])
    if not listed:
        listed = [c for c in ref.columns if c not in NOT_FEATURES and pd.api.types.is_numeric_dtype(ref[c])]
    numeric = [c for c in listed if c in ref.columns and c in cur.columns]
    text = [c for c in (extra.get("text_columns") or TEXT_COLUMNS) if c in ref.columns and c in cur.columns]
    return numeric, text


def _breach(check: str, value: Any, threshold: Any, message: str) -> dict[str, Any]:
    return {"check": check, "value": value, "threshold": threshold, "message": message}


def evaluate(ref: pd.DataFrame, cur: pd.DataFrame, *, numeric: list[str], text: list[str],
             settings: Settings, extra_quality: list | None = None) -> dict[str, Any]:
    """The verdict as a dict (pure: frames in, numbers and breaches out)."""
    from components.monitoring.drift import feature_drift, numeric_drift
    from components.monitoring.performance import ctr_at_k, ndcg_at_k
    from components.monitoring.quality import check_quality

    cfg = settings.monitoring
    breaches: list[dict[str, Any]] = []
    quality = check_quality(cur, numeric + text, cfg) + list(extra_quality or [])
    for q in quality:
        if not q.passed:
            breaches.append(_breach(f"quality:{q.name}", q.value, q.threshold, q.message))
    drift = feature_drift(ref, cur, numeric=numeric, text=text, psi_threshold=cfg.psi_threshold,
                          ks_threshold=cfg.ks_pvalue_threshold, chi2_threshold=cfg.categorical_pvalue_threshold)
    drifted = [d.column for d in drift if d.drifted]
    share = len(drifted) / len(drift) if drift else 0.0
    if drift and share >= cfg.drift_share_threshold:
        breaches.append(_breach("feature_drift", round(share, 4), cfg.drift_share_threshold,
                                f"{len(drifted)} of {len(drift)} columns drifted: {drifted}"))
    score = None
    if "score" in ref.columns and "score" in cur.columns:
        score = numeric_drift("score", ref["score"].to_numpy(dtype="float64"), cur["score"].to_numpy(dtype="float64"),
                              psi_threshold=cfg.score_psi_threshold, ks_threshold=cfg.ks_pvalue_threshold)
        if score.drifted:
            breaches.append(_breach("score_drift", score.psi, cfg.score_psi_threshold,
                                    f"score PSI {score.psi:.3f} > {cfg.score_psi_threshold} (KS p={score.ks_pvalue:.2g})"))
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
    now, before = perf["ndcg_current"], perf["ndcg_reference"]
    if now is not None and before is not None and now < before - cfg.max_ndcg_drop:
        breaches.append(_breach("ndcg_drop", round(before - now, 6), cfg.max_ndcg_drop,
                                f"NDCG@{cfg.ndcg_k} fell from {before:.4f} to {now:.4f}"))
    if now is not None and now < cfg.min_ndcg:
        breaches.append(_breach("ndcg_floor", round(now, 6), cfg.min_ndcg, f"NDCG@{cfg.ndcg_k} {now:.4f} < {cfg.min_ndcg}"))
    c_now, c_before = perf["ctr_current"], perf["ctr_reference"]
    if c_now is not None and c_before and c_now < c_before * (1 - cfg.max_ctr_drop):
        breaches.append(_breach("ctr_drop", round(1 - c_now / c_before, 6), cfg.max_ctr_drop,
                                f"CTR@{cfg.ctr_k} fell from {c_before:.4f} to {c_now:.4f}"))
    return {"breach": bool(breaches), "breaches": breaches, "quality": [q.to_dict() for q in quality],
            "drift": {"columns": len(drift), "drifted": len(drifted), "share": round(share, 4),
                      "per_column": [d.to_dict() for d in drift]},
            "score_drift": score.to_dict() if score else None, "performance": perf}


def run_monitor(settings: Settings, *, reference: str, current: str, report_dir: str | None = None,
                html: bool = True, gold_quality: bool = True) -> dict[str, Any]:
    """Evaluate, write report.html + monitoring.json, and record a breach event; returns the summary."""
    from components.monitoring.alerts import record_breach

    ref, ref_ids, ref_extra = load_window(settings, reference)
    cur, cur_ids, cur_extra = load_window(settings, current)
    numeric, text = monitored_columns(ref, cur, {**ref_extra, **cur_extra})
    if not numeric:
        raise MonitorInputError(f"{reference} and {current} share no numeric feature columns")
    extra_quality = []
    if gold_quality:
        from components.monitoring.quality import check_gold_batch

        extra_quality = check_gold_batch(settings)
    result = evaluate(ref, cur, numeric=numeric, text=text, settings=settings, extra_quality=extra_quality)
    ref_key, cur_key = ",".join(ref_ids), ",".join(cur_ids)
    result.update(reference=ref_key, current=cur_key, rows={"reference": len(ref), "current": len(cur)},
                  model_version=cur_extra.get("model_version"))
    run_key = hashlib.sha256(f"{ref_key}|{cur_key}".encode()).hexdigest()[:12]
    out = Path(report_dir or Path(settings.reports_dir) / "monitoring" / run_key)
    page = None
    if html:
        from components.monitoring.drift import text_statistics
        from components.monitoring.report import evidently_html

        cols = numeric + (["score"] if "score" in ref.columns and "score" in cur.columns else [])
        ref_v = ref[cols].join(text_statistics(ref, text))
        cur_v = cur[cols].join(text_statistics(cur, text))
        page = evidently_html(ref_v, cur_v, numeric=cols, categorical=[c for c in ref_v.columns if c not in cols],
                              cfg=settings.monitoring)
    event = None
    if result["breach"]:
        path, created = record_breach(settings, reference=ref_key, current=cur_key, breaches=result["breaches"],
                                      report=str(out / "report.html"))
        event = {"path": str(path), "breach_id": path.stem, "created": created}
    result["event"] = event
    from components.monitoring.report import write_report

    result["report"] = write_report(out, result, page)
    return result
