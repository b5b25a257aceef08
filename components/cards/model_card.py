"""The model card of a registered version, from its facts (pure: facts in, blocks and pages out).

The facts (see `card_io.collect_facts`) are what registration measured and recorded: identity,
architecture and size, training data, hyper-parameters, metrics overall and per slice against
BM25, permutation importance, and, once the comparison ran, the metrics against the champion.
Limitations are partly stated, partly derived from those numbers.
"""

from __future__ import annotations

import math
from typing import Any

from components.cards.render import Block, render_html, render_markdown

SMALL_TEST = 30  # judged test queries below which the card warns that differences are noise


def title_of(facts: dict[str, Any]) -> str:
    return f"Model card: {facts['name']} v{facts['version']}"


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan


def identity_block(facts: dict[str, Any]) -> Block:
    git = facts.get("git") or {}
    rows = [["model", f"{facts['name']} v{facts['version']} (`{facts['model_uri']}`)"],
            ["training run", facts.get("run_id")], ["registered at", facts.get("registered_at")],
            ["code", f"{git.get('sha')} on {git.get('branch')} (dirty={git.get('dirty')})"],
            ["pipeline run", facts.get("pipeline_run") or "-"]]
    return Block("Identity", header=["", "value"], rows=rows)


def use_block(facts: dict[str, Any]) -> Block:
    return Block("Intended use", text=[facts["intended_use"], f"Out of scope: {facts['out_of_scope']}"])


def architecture_block(facts: dict[str, Any]) -> Block:
    arch = facts.get("architecture") or {}
    rows = [["model kind", facts.get("model_kind") or "unknown"],
            ["parameters", arch.get("parameters")], ["weight tensors", arch.get("tensors")]]
    rows += [[f"encoder {k}", v] for k, v in sorted((arch.get("encoder") or {}).items())]
    rows += [["numeric features", ", ".join(arch.get("features") or []) or "-"],
             ["lexical features", ", ".join(arch.get("lexical") or []) or "-"]]
    return Block("Architecture and size", header=["", "value"], rows=rows)


def data_block(facts: dict[str, Any]) -> Block:
    data = facts.get("training_data") or {}
    low, high = data.get("time_range") or (None, None)
    text = [f"Feature service `{data.get('feature_service')}`, training set `{data.get('training_set')}`; "
            f"events from {low} to {high}."]
    splits = [[s, v["rows"], v["queries"]] for s, v in sorted((data.get("splits") or {}).items())]
    block = Block("Training data", text=text, header=["split", "candidate rows", "queries"], rows=splits)
    block.bullets = [f"`{s['table']}@{s['snapshot_id']}`: {s['rows']} rows" for s in data.get("snapshots") or []]
    return block


def params_block(facts: dict[str, Any]) -> Block:
    return Block("Hyper-parameters", header=["parameter", "value"],
                 rows=[[k, v] for k, v in sorted((facts.get("params") or {}).items())])


def metrics_blocks(facts: dict[str, Any]) -> list[Block]:
    ev = facts.get("evaluation") or {}
    if "model" not in ev:
        return [Block("Metrics", text=[f"Not measured: {ev.get('error', 'no evaluation')}."])]
    name = ev.get("baseline", "bm25")  # the evaluation task's baseline: BM25 for ranking
    model, base, primary = ev["model"], ev.get(name, {}), ev.get("primary_metric")
    if name == "bm25":
        keys = [k for k in model if "@" in k or k in ("map", "mrr")]
        text = [f"{model.get('queries')} judged test queries, {model.get('candidates')} candidates; BM25 "
                "ranks the same candidates."]
    else:
        keys = [k for k, v in model.items() if isinstance(v, int | float) and not isinstance(v, bool)]
        text = [f"The evaluation task's metrics against its baseline, {name}, on the same rows."]
    label = "BM25" if name == "bm25" else name
    overall = Block(f"Metrics against {label} (test split)", text=text, header=["metric", "model", name, "delta"],
                    rows=[[k, model[k], base.get(k), _num(model[k]) - _num(base.get(k))] for k in keys])
    slices = Block(f"Metrics per slice ({primary})", header=["slice", "queries", "model", name, "delta"],
                   rows=[[n, b["model"].get("queries"), b["model"].get(primary), b.get(name, {}).get(primary),
                          _num(b["model"].get(primary)) - _num(b.get(name, {}).get(primary))]
                         for n, b in (ev.get("slices") or {}).items()])
    return [overall, slices]


def comparison_block(facts: dict[str, Any]) -> Block:
    cmp = facts.get("comparison")
    if not cmp:
        return Block("Against the champion", text=["No comparison recorded yet: `rankops compare` (or the pipeline's "
                                                   "compare step) adds it to this card."])
    verdict = "promote" if cmp.get("promote") else "keep the reference"
    text = [f"Compared with **{cmp['reference']}** on `{cmp.get('training_set')}`: {cmp['metric']} delta "
            f"{_num(cmp.get('delta')):.4f}, paired {cmp.get('stat_test')} test p = {_num(cmp.get('p_value')):.4g} over "
            f"{cmp.get('queries')} queries; verdict: {verdict} (comparison run `{cmp.get('compare_run_id')}`)."]
    rows = [[k, v.get("reference"), v.get("challenger"), v.get("delta")] for k, v in (cmp.get("metrics") or {}).items()]
    return Block("Against the champion", text=text, header=["metric", cmp["reference"], "this version", "delta"],
                 rows=rows)


def importance_block(facts: dict[str, Any]) -> Block:
    imp = facts.get("importance") or {}
    if "features" not in imp:
        return Block("Feature importance", text=[f"Not measured: {imp.get('error', 'no validation split')}."])
    text = [f"Permutation importance on the validation split: the drop of {imp['metric']} (baseline "
            f"{_num(imp['baseline']):.4f} over {imp['queries']} queries) when one feature's values are shuffled "
            f"across candidates, mean and spread of {imp['repeats']} seeded shuffles (seed {imp['seed']})."]
    rows = [[f["feature"], f["kind"], f["importance"], f["std"]] for f in imp["features"]]
    return Block("Feature importance", text=text, header=["feature", "kind", f"{imp['metric']} drop", "std"], rows=rows)


def backtest_block(facts: dict[str, Any]) -> Block:
    bt = facts.get("backtest")
    training_set = (facts.get("training_data") or {}).get("training_set")
    if not bt:
        return Block("Backtest stability", text=[f"No backtest recorded for `{training_set}`: `rankops backtest "
                                                 f"--windows K --training-set {training_set}` adds one."])
    s = bt["stability"]
    names = [("windows", "windows"), ("mean", "mean"), ("std", "std over windows"), ("min", "worst window's value"),
             ("worst_window", "worst window"), ("trend_per_window", "trend per window"),
             ("mean_delta_vs_bm25", "mean lead over BM25"), ("origin_trend_per_window", "first-cutoff model trend"),
             ("origin_drop", "first-cutoff model drop, first to last window"),
             ("retrain_gain_last", "retrained over first-cutoff model, last window")]
    rows = [[label, int(s[k]) if k in ("windows", "worst_window") else s[k]] for k, label in names if k in s]
    return Block("Backtest stability", text=[f"Rolling-origin backtest of `{training_set}` on {bt['metric']} "
                                             f"(run `{bt['run_id']}`)."], header=["", "value"], rows=rows)


def limitations(facts: dict[str, Any]) -> list[str]:
    """Stated limits plus the ones the numbers show: slices below BM25, a small test set, harmful features."""
    data = facts.get("training_data") or {}
    ev = facts.get("evaluation") or {}
    base = ev.get("baseline", "bm25")
    out = ["Scores order the candidates of one query; they are not comparable across queries nor calibrated "
           "probabilities."] if base == "bm25" else []
    out += [f"Trained on events up to {(data.get('time_range') or [None, None])[1]}: query mix, catalogue and "
           "engagement drift after that; the monitors below watch for it."]
    primary = ev.get("primary_metric")
    for name, block in (ev.get("slices") or {}).items():
        m, b = _num(block["model"].get(primary)), _num(block.get(base, {}).get(primary))
        if m < b:
            out.append(f"Below {'BM25' if base == 'bm25' else base} on slice {name}: {primary} {m:.4f} vs {b:.4f}.")
    queries = (ev.get("model") or {}).get("queries")
    if isinstance(queries, int) and queries < SMALL_TEST:
        out.append(f"Only {queries} judged test queries: differences of a few points are within noise.")
    for f in (facts.get("importance") or {}).get("features", []):
        if f["importance"] < 0 and abs(f["importance"]) > f["std"]:
            out.append(f"Shuffling {f['feature']} improves the ranking ({f['importance']:.4f}): the model relies on "
                       "it in a way that does not generalise.")
    return out


def runbook_block(facts: dict[str, Any]) -> Block:
    rb = facts.get("runbook") or {}
    mon = rb.get("monitoring") or {}
    bullets = [
        "Roll back: `rankops promote rollback` restores the previous champion (alias and prod pin, audited); "
        "`--to VERSION` picks another. In forge mode it opens a pull request whose merge completes it.",
        f"Monitors (`rankops monitor`): feature drift PSI > {mon.get('psi_threshold')} or KS p < "
        f"{mon.get('ks_pvalue_threshold')}, score PSI > {mon.get('score_psi_threshold')}, null share > "
        f"{mon.get('max_null_share')}, NDCG@{mon.get('ndcg_k')} drop > {mon.get('max_ndcg_drop')}, CTR@"
        f"{mon.get('ctr_k')} relative drop > {mon.get('max_ctr_drop')}; a breach starts the "
        f"`{mon.get('retrain_pipeline')}` pipeline.",
        f"Approval: a promotion pins this version in the prod overlay; {', '.join(rb.get('approvers') or [])} "
        f"approve it ({rb.get('how', 'merge of the promotion pull request')}).",
    ]
    return Block("Operational runbook", bullets=bullets)


def blocks_of(facts: dict[str, Any]) -> list[Block]:
    return [identity_block(facts), use_block(facts), architecture_block(facts), data_block(facts),
            params_block(facts), *metrics_blocks(facts), comparison_block(facts), importance_block(facts),
            backtest_block(facts),
            Block("Limitations", bullets=limitations(facts)), runbook_block(facts)]


def render_card(facts: dict[str, Any]) -> str:
    return render_markdown(title_of(facts), blocks_of(facts))


def render_card_html(facts: dict[str, Any]) -> str:
    """The card with the per-slice bars against BM25 and the importance bars."""
    from components.cards.charts import importance_figure
    from components.common.charts import figure_block
    from components.evaluation.charts import slice_bars_figure

    figures = {}
    ev, imp = facts.get("evaluation") or {}, facts.get("importance") or {}
    if ev.get("slices") and ev.get("baseline", "bm25") == "bm25":  # the ranking task's chart
        figures[f"Metrics per slice ({ev['primary_metric']})"] = figure_block(
            slice_bars_figure(ev["slices"], ev["primary_metric"]),
            f"{ev['primary_metric']} of the model and of BM25 in each slice of the test queries.", "card-slices")
    if imp.get("features"):
        figures["Feature importance"] = figure_block(
            importance_figure(imp), f"Drop of {imp['metric']} when the feature is shuffled; the whisker is one "
            "standard deviation over the shuffles.", "card-importance")
    return render_html(title_of(facts), blocks_of(facts), figures)
