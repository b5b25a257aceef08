"""The evaluation and decision reports: Markdown for reviews and git, HTML with charts for the dashboard.

Both renderings come from the same sections (heading, header, rows), so the tables agree.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.evaluation.settings import EvaluationSettings

POINTWISE = ("precision", "recall", "f1", "threshold")
Section = tuple[str | None, list[str], list[list[Any]]]


def fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def ranking_keys(block: dict[str, Any]) -> list[str]:
    return [k for k in block if "@" in k or k in ("map", "mrr", "ndcg")]


def evaluation_intro(metrics: dict[str, Any]) -> str:
    model = metrics["model"]
    return (f"Training set `{metrics.get('training_set')}`, test split: {model.get('queries')} judged queries, "
            f"{model.get('candidates')} candidates. BM25 scores the same candidates.")


def evaluation_sections(metrics: dict[str, Any]) -> list[Section]:
    """Ranking (model vs BM25), pointwise, then the primary metric per slice."""
    model, bm25 = metrics["model"], metrics["bm25"]
    keys = ranking_keys(model)
    primary = metrics.get("primary_metric", keys[0] if keys else "")
    slices = []
    for name, block in metrics.get("slices", {}).items():
        m, b = block["model"], block.get("bm25", {})
        slices.append([name, m.get("queries"), m.get(primary), b.get(primary)])
    return [
        ("Ranking", ["metric", "model", "bm25", "delta"],
         [[k, model[k], bm25.get(k), model[k] - bm25.get(k, math.nan)] for k in keys]),
        (f"Pointwise (threshold chosen on {model.get('threshold_from', 'validation')})", ["metric", "model", "bm25"],
         [[k, model.get(k), bm25.get(k)] for k in POINTWISE]),
        ("Slices", ["slice", "queries", f"model {primary}", f"bm25 {primary}"], slices),
    ]


def render_evaluation(metrics: dict[str, Any]) -> str:
    """The evaluation report: model vs BM25 overall, pointwise, then every slice."""
    parts = [f"# Evaluation of `{metrics.get('model_uri', 'model')}`", evaluation_intro(metrics)]
    for heading, header, rows in evaluation_sections(metrics):
        parts += [f"## {heading}", table(header, rows)]
    return "\n\n".join(parts) + "\n"


def decision_rule(decision: dict[str, Any]) -> str:
    return (f"Rule: {decision['metric']} improves by >= {decision['min_delta']} and the paired {decision['stat_test']} "
            f"test over {decision['queries']} queries gives p < {decision['alpha']}; guarded slices may drop by at "
            f"most their tolerance.")


def decision_sections(decision: dict[str, Any]) -> list[Section]:
    """The test's figures, the metrics side by side, then the slices with their tolerance."""
    return [
        (None, ["", "value"], [
            [f"delta {decision['metric']}", decision["delta"]],
            ["p-value", decision["p_value"]],
            ["effect size (paired Cohen's d)", decision["effect_size"]],
            ["wins / ties / losses (queries)", "{W} / {T} / {L}".format(**decision["win_tie_loss"])],
        ]),
        ("Metrics side by side", ["metric", decision["reference"], "challenger", "delta"],
         [[k, v["reference"], v["challenger"], v["delta"]] for k, v in decision["metrics"].items()]),
        ("Slices", ["slice", "queries", "reference", "challenger", "delta", "tolerance", "ok"],
         [[s["slice"], s["queries"], s["reference"], s["challenger"], s["delta"], s["tolerance"], s["ok"]]
          for s in decision["slices"]]),
    ]


def decision_title(decision: dict[str, Any]) -> str:
    verdict = "PROMOTE" if decision["promote"] else "KEEP"
    return f"Decision: {verdict} challenger `{decision['challenger']}` vs {decision['reference']}"


def render_decision(decision: dict[str, Any]) -> str:
    """The decision report a reviewer reads before approving a promotion."""
    parts = [f"# {decision_title(decision)}", decision_rule(decision)]
    for heading, header, rows in decision_sections(decision):
        parts += ([f"## {heading}"] if heading else []) + [table(header, rows)]
    parts += ["## Reasons", "\n".join(f"- {r}" for r in decision["reasons"])]
    return "\n\n".join(parts) + "\n"


def _html_sections(sections: list[Section]) -> list[str]:
    from components.common.charts import html_table

    out = []
    for heading, header, rows in sections:
        out += ([f"<h2>{html.escape(heading)}</h2>"] if heading else []) + [html_table(header, rows)]
    return out


def _code(text: str) -> str:
    """Markdown `code` spans as HTML <code>, the rest escaped."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))


def markdown_page(title: str, markdown: str) -> str:
    """An offline HTML page showing a Markdown report as written (tasks without an HTML renderer)."""
    from components.common.charts import html_page

    return html_page(title, [f"<pre>{html.escape(markdown)}</pre>"])


def render_evaluation_html(metrics: dict[str, Any]) -> str:
    """The evaluation report with charts: NDCG@k for k = 1..20 and the primary metric per slice."""
    from components.common.charts import figure_block, html_page
    from components.evaluation.charts import ndcg_curve_figure, slice_bars_figure

    uri = metrics.get("model_uri", "model")
    primary = metrics.get("primary_metric", "ndcg@10")
    parts = [f"<h1>Evaluation of <code>{html.escape(uri)}</code></h1>", f"<p>{_code(evaluation_intro(metrics))}</p>"]
    curve = metrics.get("ndcg_curve")
    if curve:
        parts.append(figure_block(ndcg_curve_figure(curve, metrics["model"].get("queries")),
                                  f"Mean NDCG@k over the judged test queries for k = {curve['k'][0]}..{curve['k'][-1]}; "
                                  "BM25 ranks the same candidates.", "ndcg-curve"))
    if metrics.get("slices"):
        parts.append(figure_block(slice_bars_figure(metrics["slices"], primary),
                                  f"{primary} of the model and of BM25 in each slice of the test queries.", "slices"))
    parts += _html_sections(evaluation_sections(metrics))
    return html_page(f"rankops evaluation: {uri}", parts)


def render_decision_html(decision: dict[str, Any], reference_per_query: dict[str, dict[str, float]],
                         challenger_per_query: dict[str, dict[str, float]], cfg: EvaluationSettings) -> str:
    """The decision report with the per-query deltas of the primary metric and their confidence interval."""
    from components.common.charts import figure_block, html_page, html_table
    from components.evaluation.charts import delta_figure, delta_interval, per_query_deltas

    metric = decision["metric"]
    deltas = per_query_deltas(reference_per_query, challenger_per_query, metric)
    interval = delta_interval(deltas.values(), stat_test=decision["stat_test"], alpha=decision["alpha"],
                              n_resamples=cfg.n_permutations, seed=cfg.seed)
    css = "promote" if decision["promote"] else "keep"
    parts = [f"<h1 class='{css}'>{_code(decision_title(decision))}</h1>", f"<p>{html.escape(decision_rule(decision))}</p>",
             figure_block(delta_figure(deltas, interval, metric, decision["reference"], decision["challenger"]),
                          f"Each query's {metric} difference, sorted; the line is the mean delta, the band its "
                          f"{interval['level']:.0%} confidence interval ({interval['method']}).", "deltas"),
             html_table(["mean delta", f"{interval['level']:.0%} CI low", f"{interval['level']:.0%} CI high",
                         "interval", "queries"],
                        [[interval["mean"], interval["low"], interval["high"], interval["method"], len(deltas)]])]
    parts += _html_sections(decision_sections(decision))
    losses = sorted((kv for kv in deltas.items() if kv[1] < 0), key=lambda kv: (kv[1], kv[0]))[:10]
    parts.append("<h2>Queries the challenger loses (largest first)</h2>")
    parts.append(html_table(["query_id", decision["reference"], "challenger", "delta"],
                            [[q, reference_per_query[metric][q], challenger_per_query[metric][q], d] for q, d in losses])
                 if losses else "<p>none: the challenger loses no query</p>")
    parts += ["<h2>Reasons</h2>", "<ul>" + "".join(f"<li>{html.escape(r)}</li>" for r in decision["reasons"]) + "</ul>"]
    return html_page(f"rankops decision: {decision['challenger']} vs {decision['reference']}", parts)
