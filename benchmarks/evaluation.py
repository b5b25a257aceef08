"""Cost of evaluation and of the champion/challenger decision (prints figures; not a test).

    .venv/bin/python benchmarks/evaluation.py --queries 2000 --candidates 20

Measures, on synthetic candidates: BM25 over the candidates, ranx metrics + slices +
pointwise for one scorer, and the paired decision (student and fisher). ranx compiles with
numba on first use in a fresh environment (~30-40 s once, cached afterwards): a warm-up call
runs first and is reported separately.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--candidates", type=int, default=20)
    args = parser.parse_args()

    from components.evaluation.baseline import score_bm25
    from components.evaluation.compare import decide
    from components.evaluation.evaluate import evaluate_scores, scored_rows
    from components.evaluation.frames import dedupe_pairs
    from components.evaluation.settings import EvaluationSettings
    from tests.support.evaluation_data import make_training_frame

    t0 = time.perf_counter()
    small = dedupe_pairs(make_training_frame(14, 4))
    evaluate_scores(small, small["signal"].to_numpy(), EvaluationSettings())
    warm = time.perf_counter() - t0

    full = dedupe_pairs(make_training_frame(args.queries, args.candidates))
    rows = scored_rows(full)
    print(f"frame: {len(full)} candidates, {full['query_id'].nunique()} queries, {int(rows.sum())} scored")
    print(f"warm-up (imports + numba cache load/compile): {warm:.2f} s")

    t = time.perf_counter()
    bm25 = np.full(len(full), np.nan)
    bm25[rows] = score_bm25(full[rows].reset_index(drop=True))
    print(f"bm25 scoring: {time.perf_counter() - t:.2f} s")

    cfg = EvaluationSettings()
    t = time.perf_counter()
    model_eval = evaluate_scores(full, full["signal"].to_numpy(), cfg)
    print(f"evaluate one scorer (6 metrics, 7 slices, threshold): {time.perf_counter() - t:.2f} s "
          f"({model_eval['overall']['queries']} judged test queries)")
    bm25_eval = evaluate_scores(full, bm25, cfg)
    for test in ("student", "fisher"):
        t = time.perf_counter()
        d = decide(bm25_eval, model_eval, EvaluationSettings(stat_test=test), reference_name="bm25", challenger_name="m")
        print(f"decide ({test}): {(time.perf_counter() - t) * 1000:.1f} ms, delta {d['delta']:+.4f}, p {d['p_value']:.3g}")


if __name__ == "__main__":
    main()
