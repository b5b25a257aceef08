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
            f"<ul>{rows}</ul></div>")


def evidently_html(reference: pd.DataFrame, current: pd.DataFrame, *, numeric: list[str],
                   categorical: list[str], cfg: MonitoringSettings) -> str:
    """Evidently's DataDriftPreset over the monitored columns, with the profile's thresholds."""
    import tempfile

    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    cols = numeric + categorical
    definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
    preset = DataDriftPreset(columns=cols, num_method="psi", num_threshold=cfg.psi_threshold,
                             cat_method="chisquare", cat_threshold=cfg.categorical_pvalue_threshold,
                             drift_share=cfg.drift_share_threshold)
    snapshot = Report([preset]).run(Dataset.from_pandas(current[cols], data_definition=definition),
                                    Dataset.from_pandas(reference[cols], data_definition=definition))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.html"
        snapshot.save_html(str(path))
        return path.read_text(encoding="utf-8")


def write_report(out_dir: str | Path, result: dict[str, Any], page: str | None) -> dict[str, str]:
    """report.html (banner + Evidently dashboard) and monitoring.json in `out_dir`."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": str(out / "monitoring.json")}
    (out / "monitoring.json").write_text(json.dumps(result, indent=2, sort_keys=True, default=str) + "\n",
                                         encoding="utf-8")
    top = banner(result)
    if page and "<body" in page:
        head, _, rest = page.partition("<body")
        tag, _, body = rest.partition(">")
        page = f"{head}<body{tag}>{top}{body}"
    else:
        page = f"<!doctype html><html><head><meta charset='utf-8'><title>rankops monitoring</title></head>" \
               f"<body>{top}{page or ''}</body></html>"
    (out / "report.html").write_text(page, encoding="utf-8")
    paths["html"] = str(out / "report.html")
    return paths
