"""The monitor's history: one line per `rankops monitor` run, and the drift-over-time chart of the report.

Every run appends its drift figures to `<reports>/monitoring/history.jsonl` (on the lakehouse
volume in the cluster, so runs in separate pods share it). The report plots the runs that
used the same reference: drift against another reference is not on the same scale.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.common.charts import chart

if TYPE_CHECKING:
    from components.common.config import Settings
    from components.monitoring.settings import MonitoringSettings

HISTORY_FILE = "history.jsonl"
MAX_COLUMNS = 6  # PSI lines drawn: the columns that came closest to the threshold


def history_path(settings: Settings) -> Path:
    return Path(settings.reports_dir) / "monitoring" / HISTORY_FILE


def history_entry(result: dict[str, Any], at: datetime | None = None) -> dict[str, Any]:
    """The drift figures of one verdict (what the chart needs, nothing else)."""
    drift, score, perf = result["drift"], result.get("score_drift") or {}, result["performance"]
    return {
        "at": (at or datetime.now(UTC)).isoformat(timespec="seconds"),
        "reference": result["reference"], "current": result["current"], "rows": result["rows"]["current"],
        "drift_share": drift["share"], "drifted": drift["drifted"], "columns": drift["columns"],
        "psi": {d["column"]: d["psi"] for d in drift["per_column"] if d.get("psi") is not None},
        "score_psi": score.get("psi"), "ndcg": perf.get("ndcg_current"), "breach": result["breach"],
    }


def append_history(path: Path, entry: dict[str, Any]) -> tuple[list[dict[str, Any]], list[int]]:
    """Append `entry` (one write of one line, so concurrent runs do not interleave); return the runs
    with the same reference, oldest first, this one last, and the numbers of damaged lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
    return read_history(path, entry["reference"])


def read_history(path: Path, reference: str) -> tuple[list[dict[str, Any]], list[int]]:
    """The recorded runs against `reference` in the order they ran, and the numbers of the lines that are
    not JSON objects: a damaged line is skipped and named in the report, never a reason to stop monitoring."""
    runs, damaged = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            entry = None
        if not isinstance(entry, dict):
            damaged.append(number)
        elif entry.get("reference") == reference:
            runs.append(entry)
    return runs, damaged


@chart
def drift_figure(runs: list[dict[str, Any]], cfg: MonitoringSettings):
    """Top: the share of drifted columns per run against its breach threshold. Bottom: the PSI of
    the columns that came closest to the PSI threshold, and the score's PSI."""
    from components.common.charts import BAD_COLOR, MODEL_COLOR, new_figure

    x = list(range(1, len(runs) + 1))
    fig = new_figure(8.0, 5.6)
    top, bottom = fig.subplots(2, 1, sharex=True)
    top.plot(x, [r["drift_share"] for r in runs], marker="o", color=MODEL_COLOR, label="drifted share of columns")
    breached = [(i, r["drift_share"]) for i, r in zip(x, runs, strict=True) if r["breach"]]
    if breached:
        top.scatter(*zip(*breached, strict=True), s=80, facecolors="none", edgecolors=BAD_COLOR, zorder=3,
                    label="run with a breach")
    top.axhline(cfg.drift_share_threshold, color=BAD_COLOR, linestyle="--",
                label=f"drift_share_threshold {cfg.drift_share_threshold:g}")
    top.set_ylim(0, 1.02)
    top.set_ylabel("drifted share")
    top.legend(loc="upper left", fontsize=8)
    top.grid(alpha=0.3)
    peak: dict[str, float] = {}
    for r in runs:
        for col, value in r["psi"].items():
            peak[col] = max(peak.get(col, 0.0), value)
    for col in sorted(peak, key=lambda c: (-peak[c], c))[:MAX_COLUMNS]:
        bottom.plot(x, [r["psi"].get(col) for r in runs], marker=".", label=col)
    if any(r.get("score_psi") is not None for r in runs):
        bottom.plot(x, [r.get("score_psi") for r in runs], color="black", linewidth=2, label="score")
    bottom.axhline(cfg.psi_threshold, color=BAD_COLOR, linestyle="--", label=f"psi_threshold {cfg.psi_threshold:g}")
    bottom.set_yscale("symlog", linthresh=cfg.psi_threshold)  # the threshold stays visible next to large PSIs
    bottom.set_ylabel("PSI (linear below the threshold, log above)")
    bottom.set_xlabel("monitor run")
    bottom.set_xticks(x, [r["at"][5:19].replace("T", " ") for r in runs], rotation=30, fontsize=7, ha="right")
    bottom.legend(loc="upper left", fontsize=7, ncol=2)
    bottom.grid(alpha=0.3)
    fig.suptitle(f"Drift over the last {len(runs)} run(s) against this reference")
    return fig


def drift_history_html(runs: list[dict[str, Any]], cfg: MonitoringSettings, damaged: Sequence[int] = (),
                       limit: int = 50) -> str:
    """The report's drift-over-time section: the chart and a table of the runs, newest first."""
    from components.common.charts import figure_block, html_table

    runs = runs[-limit:]
    chart = figure_block(drift_figure(runs, cfg), "Each point is one run of rankops monitor against the same "
                         "reference. Feature drift breaches when the drifted share reaches the dashed line; a column "
                         "drifts when its PSI is over the PSI threshold and its KS p-value is also low. Circled: "
                         "runs with any breach (quality, drift, score or NDCG).", "drift-history")
    rows = [[r["at"], r["current"], r["rows"], f"{r['drifted']} / {r['columns']}", r["drift_share"],
             r.get("score_psi"), r.get("ndcg"), "yes" if r["breach"] else "no"] for r in reversed(runs)]
    table = html_table(["run at (UTC)", "current window", "rows", "drifted", "share", "score PSI", "NDCG", "breach"],
                       rows)
    skipped = f"; damaged lines skipped: {', '.join(map(str, damaged))}" if damaged else ""
    style = ("<style>.rankops-history table{border-collapse:collapse}.rankops-history th,.rankops-history td"
             "{border:1px solid #ccc;padding:2px 6px;font-size:.85em}.rankops-history svg{max-width:100%;height:auto}</style>")
    return (f'{style}<div class="rankops-history" style="font-family:sans-serif;padding:12px;margin:8px">'
            f"<h2>Drift over time</h2>{chart}{table}"
            f"<p>History: <code>{html.escape(HISTORY_FILE)}</code> in the monitoring reports folder"
            f"{skipped}.</p></div>")
