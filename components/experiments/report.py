"""`rankops experiment report`: read the impression and click logs, compute the verdict, write JSON + HTML.

The JSON's top level (`experiment`, `mode`, `verdict`, `p_value`, `queries`, `generated_at`, `versions` and
the `registry` that numbers them) is what a promotion request attaches as online evidence; everything else
is detail for people.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.common.charts import chart
from components.experiments import stats
from components.inference.impressions import CLICK_FIELDS, IMPRESSION_FIELDS


class ExperimentReportError(ValueError):
    """The logs cannot answer (bad line, no rows, mixed modes): the message names the file and line."""


def files_of(path: str | Path, kind: str) -> list[Path]:
    """`path` itself, or the closed `<kind>-*.jsonl` files under it, sub-folders included (in the
    cluster each ranker replica writes its own folder of the spool; open `.jsonl.open` files are left
    to their writers)."""
    p = Path(path)
    if p.is_dir():
        return sorted(p.rglob(f"{kind}-*.jsonl"))
    if not p.exists():
        raise ExperimentReportError(f"{p}: no such file or directory")
    return [p]


def read_rows(files: list[Path], fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every JSON line of `files`; a line that is not an object with `fields` fails naming file:line."""
    rows = []
    for f in files:
        with f.open(encoding="utf-8") as handle:
            for no, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ExperimentReportError(f"{f}:{no}: not JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise ExperimentReportError(f"{f}:{no}: expected a JSON object")
                missing = [k for k in fields if k not in row]
                if missing:
                    raise ExperimentReportError(f"{f}:{no}: missing field(s) {', '.join(missing)}")
                rows.append(row)
    return rows


def clicks_by_request(rows: list[dict[str, Any]], known: set[str]) -> tuple[dict[str, list[int]], int]:
    """{request_id: clicked positions} for known requests, and how many clicks matched none."""
    out: dict[str, list[int]] = {}
    orphans = 0
    for r in rows:
        if r["request_id"] in known and isinstance(r["position"], int):
            out.setdefault(r["request_id"], []).append(r["position"])
        else:
            orphans += 1
    return out, orphans


def build_report(name: str, impressions: list[dict[str, Any]], clicks: list[dict[str, Any]],
                 shadow: list[dict[str, Any]], *, alpha: float = 0.05, k: int = 10) -> dict[str, Any]:
    """The report of experiment `name` from parsed log rows (see the module docstring for its top level)."""
    rows = sorted((r for r in impressions if r["experiment"] == name), key=lambda r: r["ts"])
    if not rows:
        raise ExperimentReportError(f"no impressions of experiment {name!r} in the log")
    modes = {r["mode"] for r in rows}
    if len(modes) > 1:
        raise ExperimentReportError(f"experiment {name!r} has impressions in modes {sorted(modes)}: "
                                    "give each experiment its own name")
    mode = modes.pop()
    by_request, orphans = clicks_by_request(clicks, {r["request_id"] for r in rows})
    if mode == "interleave":
        detail = stats.interleave_summary(rows, by_request, alpha)
    elif mode == "ab":
        detail = stats.ab_summary(rows, by_request, alpha, k=k)
    else:
        ids = {r["request_id"] for r in rows}
        detail = stats.shadow_summary([s for s in shadow if s["request_id"] in ids], k=k)
    versions = {(r["champion_version"], r["challenger_version"]) for r in rows}
    return {"experiment": name, "mode": mode, "verdict": detail["verdict"], "p_value": detail["p_value"],
            "queries": detail["queries"], "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "alpha": alpha, "versions": [{"champion": c, "challenger": h} for c, h in sorted(versions)],
            "period": [rows[0]["ts"], rows[-1]["ts"]], "impressions": len(rows),
            "clicks": sum(len(v) for v in by_request.values()), "unmatched_clicks": orphans,
            "fallbacks": sum(bool(r["fallback"]) for r in rows), "detail": detail}


@chart
def p_value_figure(curve: list[list[float]], alpha: float, mode: str):
    """The test's p-value as queries accumulate, against alpha: how soon the verdict settled."""
    from components.common.charts import BAD_COLOR, MODEL_COLOR, new_figure

    fig = new_figure(7.0, 3.2)
    ax = fig.subplots()
    ax.plot([n for n, _ in curve], [max(p, 1e-300) for _, p in curve], color=MODEL_COLOR, lw=1.6, label=mode)
    ax.axhline(alpha, color=BAD_COLOR, ls="--", lw=2, label=f"alpha {alpha:g}")
    ax.set_yscale("log")
    ax.set_xlabel("queries")
    ax.set_ylabel("p-value")
    ax.legend(loc="upper right", frameon=False)
    ax.grid(alpha=0.3)
    return fig


def render_html(report: dict[str, Any]) -> str:
    from components.common.charts import figure_block, fmt, html_page, html_table

    d = report["detail"]
    title = f"Experiment {report['experiment']} ({report['mode']})"
    parts = [f"<h1>{fmt(title)}</h1>",
             f"<p>Verdict: <b>{fmt(report['verdict'])}</b> (p = {fmt(report['p_value'])}, alpha "
             f"{fmt(report['alpha'])}) over {report['queries']} queries, {fmt(report['period'][0])} .. "
             f"{fmt(report['period'][1])}.</p>",
             "<h2>Overview</h2>",
             html_table(["impressions", "clicks", "unmatched clicks", "fallbacks", "versions"],
                        [[report["impressions"], report["clicks"], report["unmatched_clicks"], report["fallbacks"],
                          ", ".join(f"{v['champion']} vs {v['challenger']}" for v in report["versions"])]])]
    if report.get("registry"):
        parts.append(f"<p>Version numbers of the registry {fmt(report['registry'])}.</p>")
    if report["mode"] == "interleave":
        parts += ["<h2>Interleaving (team draft)</h2>",
                  html_table(["challenger wins", "ties", "champion wins", "p-value", "queries to verdict"],
                             [[d["wins"], d["ties"], d["losses"], d["p_value"], d["queries_to_verdict"]]]),
                  f"<p>{fmt(d['test'])}; ties and fallback impressions ({d['fallbacks']}) carry no credit.</p>"]
    elif report["mode"] == "ab":
        k = d["k"]
        rows = [[arm, a["queries"], a[f"ctr@{k}"], _ci(a[f"ctr@{k}_ci"]), a["clicks_per_query"],
                 _ci(a["clicks_per_query_ci"]), a["fallbacks"]] for arm, a in d["arms"].items()]
        parts += ["<h2>A/B arms</h2>",
                  html_table(["arm", "queries", f"CTR@{k}", f"{d['confidence']:.0%} CI", "clicks/query",
                              f"{d['confidence']:.0%} CI", "fallbacks"], rows),
                  f"<p>{fmt(d['test'])}; queries to verdict: {fmt(d['queries_to_verdict'])}.</p>"]
    else:
        k = d["k"]
        parts += ["<h2>Shadow agreement</h2>",
                  html_table(["queries", "Spearman mean", "Spearman median", f"top-{k} overlap"],
                             [[d["queries"], d["spearman_mean"], d["spearman_median"], d[f"top{k}_overlap_mean"]]]),
                  f"<p>{fmt(d['note'])}.</p>"]
    if d.get("p_value_curve"):
        parts.append(figure_block(p_value_figure(d["p_value_curve"], report["alpha"], report["mode"]),
                                  f"p-value over the first n queries ({d['test']})", salt="p-curve"))
    return html_page(title, parts)


def _ci(ci: list[float] | None) -> str:
    return f"{ci[0]:.4f} .. {ci[1]:.4f}" if ci else "n/a"


def run_report(name: str, report_dir: str | Path, impressions: str | Path, clicks: str | Path | None = None,
               *, alpha: float = 0.05, k: int = 10, registry: str | None = None) -> dict[str, Any]:
    """Read the logs (files or directories), write `report.json` and `report.html` into `report_dir`.

    `registry`: the registry the ranker read, whose numbers the versions are (the profile's, credentials
    masked); a promotion from another environment's registry maps its version through it.
    """
    imp_files = files_of(impressions, "impressions")
    if not imp_files:
        raise ExperimentReportError(f"{impressions}: no impressions-*.jsonl files")
    imp = read_rows(imp_files, IMPRESSION_FIELDS)
    clk = read_rows(files_of(clicks if clicks is not None else impressions, "clicks"), CLICK_FIELDS)
    shadow_dir = Path(impressions) if Path(impressions).is_dir() else Path(impressions).parent
    shadow = read_rows(files_of(shadow_dir, "shadow"),
                       ("request_id", "champion_scores", "challenger_scores"))
    report = build_report(name, imp, clk, shadow, alpha=alpha, k=k)
    if registry is not None:
        report["registry"] = registry
    out = Path(report_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.html").write_text(render_html(report))
    return {**report, "report_dir": str(out)}
