"""The backtest report: per window the model and BM25 with the paired test, then the stability summary."""

from __future__ import annotations

from typing import Any

from components.cards.render import Block, render_html, render_markdown


def title_of(result: dict[str, Any]) -> str:
    return f"Backtest of {result['training_set']}: {len(result['windows'])} windows"


def blocks_of(result: dict[str, Any]) -> list[Block]:
    metric, s = result["metric"], result["stability"]
    rows = [[r["window"]["index"], r["window"]["cutoff"], r["window"]["end"], r["train_rows"], r["model"].get("queries"),
             r["model"][metric], (r.get("origin") or {}).get(metric, "-"), r["bm25"][metric], r["delta"], r["p_value"]]
            for r in result["windows"]]
    summary = [["mean", s["mean"]], ["std over windows", s["std"]], ["min", s["min"]], ["max", s["max"]],
               ["worst window", s["worst_window"]], ["trend per window", s["trend_per_window"]],
               ["mean lead over BM25", s["mean_delta_vs_bm25"]], ["worst lead over BM25", s["worst_delta_vs_bm25"]],
               ["windows beating BM25", f"{s['windows_beating_bm25']} / {s['windows']}"]]
    if "origin_trend_per_window" in s:
        summary += [["first-cutoff model, first window", s["origin_first"]],
                    ["first-cutoff model, last window", s["origin_last"]],
                    ["first-cutoff model trend per window", s["origin_trend_per_window"]]]
    if "origin_drop" in s:
        summary += [["first-cutoff model, drop first → last window", s["origin_drop"]],
                    ["retrained minus first-cutoff model, last window", s["retrain_gain_last"]]]
    return [
        Block("Windows", text=[f"Each window trains on the labels up to its cutoff and is evaluated on those up to its "
                               f"end; {metric} of the model and of BM25 on the same candidates, paired "
                               f"{result['windows'][0]['stat_test'] if result['windows'] else ''} test over queries. The first-cutoff "
                               "model is never retrained: its column shows how a model ages."],
              header=["window", "cutoff", "end", "train rows", "test queries", "retrained model",
                      "first-cutoff model", "bm25", "delta", "p-value"],
              rows=rows),
        Block(f"Stability of {metric}", header=["", "value"], rows=summary),
    ]


def render_backtest(result: dict[str, Any]) -> str:
    return render_markdown(title_of(result), blocks_of(result))


def render_backtest_html(result: dict[str, Any]) -> str:
    from components.common.charts import figure_block

    figures = {"Windows": figure_block(windows_figure(result), f"{result['metric']} per window, model vs BM25.",
                                       "backtest")} if result["windows"] else {}
    return render_html(title_of(result), blocks_of(result), figures)


def windows_figure(result: dict[str, Any]):
    from components.common.charts import BAD_COLOR, BASELINE_COLOR, MODEL_COLOR, chart, new_figure

    @chart
    def build():
        metric = result["metric"]
        x = [r["window"]["index"] for r in result["windows"]]
        fig = new_figure()
        ax = fig.add_subplot()
        ax.plot(x, [r["model"][metric] for r in result["windows"]], marker="o", color=MODEL_COLOR,
                label="retrained model")
        if all("origin" in r for r in result["windows"]):
            ax.plot(x, [r["origin"][metric] for r in result["windows"]], marker="^", color=BAD_COLOR,
                    label="first-cutoff model")
        ax.plot(x, [r["bm25"][metric] for r in result["windows"]], marker="s", linestyle="--", color=BASELINE_COLOR,
                label="BM25")
        ax.set_xticks(x)
        ax.set_xlabel("window (later to the right)")
        ax.set_ylabel(metric)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower left")
        ax.set_title(f"{metric} per backtest window")
        return fig

    return build()
