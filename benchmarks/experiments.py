"""Sensitivity of online experiments on simulated users: queries to a verdict, interleaving vs A/B; A/A rate.

    .venv/bin/python benchmarks/experiments.py --repeats 10 --max-queries 20000

Offline (no server: the same team draft, A/B assignment, click model and tests as the ranker and
`rankops experiment report`): BM25 packaged as a model (champion) against the project's ELECTRA
cross-encoder (local profile) trained on the simulated world's graded labels and registered
(challenger): the world and training of tests/integration/experiments/test_experiments_simulated.py.
For each seed: the number of queries after which the p-value stays below alpha. Then A/A repeats
(the same ranking twice) and their false-positive rate.
Target: interleaving reaches the verdict in at most 1/5 of A/B's queries (median), A/A rate <= 7 %.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=10, help="Seeds per method.")
    ap.add_argument("--max-queries", type=int, default=20_000, help="Queries simulated per A/B seed.")
    ap.add_argument("--aa-repeats", type=int, default=400)
    ap.add_argument("--alpha", type=float, default=0.01)
    ap.add_argument("--out", help="Write the figures as JSON here.")
    args = ap.parse_args()

    import numpy as np

    from components.common.config import load_settings
    from components.experiments.stats import ab_summary, ab_test, interleave_test, queries_to_verdict
    from tests.support import simulated_users as su
    from tests.support.serving_data import FEATURES

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rankops-exp-bench-") as tmp:
        settings = load_settings("local", environ={"RANKOPS_HOME": tmp, "RANKOPS_REGISTRY__WRITE_BACK": "false"})
        world = su.make_world(**su.WORLD)
        champ = su.register_pyfunc(settings, su.Bm25Ranker(), FEATURES, alias="champion")
        t0 = time.perf_counter()
        electra = su.train_electra(settings, world)
        train_s = time.perf_counter() - t0
        chall = electra["version"]
        ra = su.rankings(settings, f"models:/rankops-ranker/{champ}", world)
        rb = su.rankings(settings, f"models:/rankops-ranker/{chall}", world)
    grades = world["grades"]
    interleave_n, ab_n = [], []
    for seed in range(args.repeats):
        out = su.offline_interleaving(ra, rb, grades, args.max_queries // 10, seed)
        interleave_n.append(queries_to_verdict([interleave_test(out[:n]) for n in range(1, len(out) + 1)],
                                               args.alpha))
        rows = su.offline_ab(ra, rb, grades, args.max_queries, seed)
        ab_n.append(ab_summary(rows, {r["request_id"]: r["clicks"] for r in rows}, args.alpha)["queries_to_verdict"])
    same = world["candidates"]
    aa_int = sum((interleave_test(su.offline_interleaving(same, same, grades, 300, s)) or 1) < 0.05
                 for s in range(args.aa_repeats))
    aa_ab = 0
    for s in range(args.aa_repeats):
        rows = su.offline_ab(same, same, grades, 300, s)
        aa_ab += (ab_test(rows, {r["request_id"]: r["clicks"] for r in rows}, 10)[0] or 1) < 0.05

    def med(xs: list[int | None]) -> float | None:
        got = [x for x in xs if x is not None]
        return float(np.median(got)) if len(got) == len(xs) else None

    result = {"alpha": args.alpha, "repeats": args.repeats, "interleave_queries": interleave_n, "ab_queries": ab_n,
              "interleave_median": med(interleave_n), "ab_median": med(ab_n),
              "aa_false_positive_rate": {"interleave": aa_int / args.aa_repeats, "ab": aa_ab / args.aa_repeats},
              "challenger": {"family": "electra", "steps": electra["steps"],
                             "validation_ndcg_at_10": round(electra["metrics"]["ndcg_at_10"], 4),
                             "train_and_register_s": round(train_s, 1)},
              "load_average": [round(x, 1) for x in os.getloadavg()],
              "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    ratio_ok = result["interleave_median"] is not None and result["ab_median"] is not None and \
        result["interleave_median"] * 5 <= result["ab_median"]
    aa_ok = max(result["aa_false_positive_rate"].values()) <= 0.07
    print(f"\nqueries to p<{args.alpha}: interleaving median {result['interleave_median']}, A/B median "
          f"{result['ab_median']}; A/A flagged {aa_int}/{args.aa_repeats} (interleaving), {aa_ab}/{args.aa_repeats} "
          f"(A/B) at 0.05; target {'met' if ratio_ok and aa_ok else 'NOT met'}")
    return 0 if ratio_ok and aa_ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
