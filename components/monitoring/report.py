"""The monitoring report: Evidently's drift dashboard (plots per column) with our verdict on top."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from components.monitoring.settings import MonitoringSettings


def banner(result: dict[str, Any]) -> str:
    """A short HTML header: verdict, breached checks and the headline metrics."""
    color = "#b00020" if result["breach"] else "#1b5e20"
    verdict = "BREACH: retraining triggered" if result["breach"] else "OK: no threshold breached"
    rows = "".join(f"<li><b>{html.escape(b['check'])}</b>: {html.escape(b['message'])}</li>"
                   for b in result["breaches"]) or "<li>none</li>"
    perf = result["performance"]
    return (f'<div style="font-family:sans-serif;padding:12px;border-left:6px solid {color};margin:8px">'
            f'<h2 style="color:{color};margin:0">rankops monitoring: {verdict}</h2>'
            f'<p>reference <code>{html.escape(result["reference"])}</code> vs current '
            f'<code>{html.escape(result["current"])}</code> ({result["rows"]["current"]} rows)</p>'
            f"<p>NDCG@{perf['k']}: {perf['ndcg_current']} (reference {perf['ndcg_reference']}) · "
            f"CTR@{perf['ctr_k']}: {perf['ctr_current']} (reference {perf['ctr_reference']}) · "
            f"drifted features: {result['drift']['drifted']} / {result['drift']['columns']}</p>"
            f"<p>The dashboard below tests the same per-entity values with the same rules.</p>"
            f"<ul>{rows}</ul></div>")


def register_drift_tests(ks_threshold: float) -> tuple[str, str]:
    """The verdict's drift rules as Evidently stat tests: (numeric name, categorical name).

    Numeric: PSI over the column's threshold and KS p under `ks_threshold` (the name carries
    it, so two thresholds never share a registration); categorical: chi-square p under it.
    """
    from evidently.legacy.calculations.stattests.registry import StatTest, register_stattest
    from evidently.legacy.core import ColumnType

    from components.monitoring.drift import categorical_drift, numeric_drift

    numeric_name, categorical_name = f"rankops_psi_ks_{ks_threshold:g}", "rankops_chi2"

    def numeric(ref, cur, _kind, threshold):
        d = numeric_drift(str(ref.name), ref.to_numpy(dtype="float64"), cur.to_numpy(dtype="float64"),
                          psi_threshold=threshold, ks_threshold=ks_threshold)
        return d.psi, d.drifted

    def categorical(ref, cur, _kind, threshold):
        d = categorical_drift(str(ref.name), ref, cur, chi2_threshold=threshold)
        return d.chi2_pvalue, d.drifted

    register_stattest(StatTest(numeric_name, f"PSI, drifted when also KS p < {ks_threshold:g}",
                               [ColumnType.Numerical]), numeric)
    register_stattest(StatTest(categorical_name, "chi-square p-value", [ColumnType.Categorical]), categorical)
    return numeric_name, categorical_name


def evidently_report(reference: pd.DataFrame, current: pd.DataFrame, *, numeric: list[str], text: list[str],
                     cfg: MonitoringSettings) -> tuple[str, dict[str, Any]]:
    """Evidently's drift dashboard on the verdict's own frames and rules; (html, its drift flags).

    The frames hold each column's per-entity values (`drift.entity_frame`), the stat tests are
    the verdict's, and score drift is a separate metric as in the verdict: the dashboard can
    no longer contradict the banner above it. A column empty on either side is left out
    (Evidently cannot test it; the verdict counts it as not drifted).
    """
    import tempfile

    from evidently import DataDefinition, Dataset, Report
    from evidently.metrics import ValueDrift
    from evidently.presets import DataDriftPreset

    from components.monitoring.drift import entity_frame, text_statistic_columns, with_text_statistics

    ref_stats, cur_stats = with_text_statistics(reference, text), with_text_statistics(current, text)
    stats = text_statistic_columns(ref_stats, cur_stats, text)
    scored = "score" in reference.columns and "score" in current.columns
    cols = numeric + stats + (["score"] if scored else [])
    ref_f = entity_frame(reference.join(ref_stats[stats]), cols)
    cur_f = entity_frame(current.join(cur_stats[stats]), cols)
    cols = [c for c in cols if ref_f[c].notna().any() and cur_f[c].notna().any()]
    features = [c for c in cols if c != "score"]
    num_test, cat_test = register_drift_tests(cfg.ks_pvalue_threshold)
    definition = DataDefinition(numerical_columns=[c for c in cols if c not in stats],
                                categorical_columns=[c for c in cols if c in stats])
    items: list[Any] = [DataDriftPreset(columns=features, num_method=num_test, num_threshold=cfg.psi_threshold,
                                        cat_method=cat_test, cat_threshold=cfg.categorical_pvalue_threshold,
                                        drift_share=cfg.drift_share_threshold)]
    if "score" in cols:
        items.append(ValueDrift(column="score", method=num_test, threshold=cfg.score_psi_threshold))
    snapshot = Report(items, include_tests=True).run(Dataset.from_pandas(cur_f[cols], data_definition=definition),
                                                     Dataset.from_pandas(ref_f[cols], data_definition=definition))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.html"
        snapshot.save_html(str(path))
        return path.read_text(encoding="utf-8"), evidently_flags(snapshot.dict())


def evidently_flags(snapshot: dict[str, Any]) -> dict[str, Any]:
    """What Evidently's own tests concluded: drifted feature columns, their share, score drift."""
    drifted = sorted(t["metric_config"]["params"]["column"] for t in snapshot["tests"]
                     if t["metric_config"]["params"].get("type", "").endswith(":ValueDrift")
                     and str(getattr(t["status"], "value", t["status"])) == "FAIL")
    share = next(m["value"]["share"] for m in snapshot["metrics"]
                 if m["config"]["type"].endswith(":DriftedColumnsCount"))
    return {"drifted": [c for c in drifted if c != "score"], "share": round(float(share), 4),
            "score_drifted": "score" in drifted}


def write_report(out_dir: str | Path, result: dict[str, Any], page: str | None, history: str = "") -> dict[str, str]:
    """report.html (banner, drift over time, Evidently dashboard) and monitoring.json in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": str(out / "monitoring.json")}
    (out / "monitoring.json").write_text(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n",
                                         encoding="utf-8")
    top = banner(result) + history
    title = f"<title>rankops monitoring: {'BREACH' if result['breach'] else 'OK'}</title>"
    if page and "<body" in page:
        head, _, rest = page.partition("<body")
        tag, _, body = rest.partition(">")
        head = head.replace("<head>", f"<head>{title}", 1) if "<title>" not in head else head
        page = f"{head}<body{tag}>{top}{body}"
    else:
        page = f"<!doctype html><html><head><meta charset='utf-8'>{title}</head>" \
               f"<body>{top}{page or ''}</body></html>"
    (out / "report.html").write_text(page, encoding="utf-8")
    paths["html"] = str(out / "report.html")
    return paths
