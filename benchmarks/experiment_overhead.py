"""What the experiment code adds to the champion-only path, in CPU time per request (robust on a loaded box).

    .venv/bin/python benchmarks/experiment_overhead.py --requests 400

Same process, same model (the linear reference ranker), same 50 candidates, alternating per request:
`before` = the ranker's scoring path as it was (`server.rank`: lookup, predict, sort);
`after`  = the path /rerank now runs with no experiment (lookup, `experiments.route`, the impression
line built and appended to a file). Thread CPU time, so other processes' load does not count.
Target: the median overhead is <= 5 % of the before path and <= 0.5 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--candidates", type=int, default=50)
    args = ap.parse_args()

    from components.common.config import load_settings
    from components.inference.experiments import ExperimentState, route
    from components.inference.impressions import ImpressionLog
    from components.inference.model import load_ranker
    from components.inference.schema import RerankRequest
    from components.inference.server import impression_of, lookup_checked, rank
    from tests.support import serving_data as sample
    from tests.support.reference_model import log_reference_model

    with tempfile.TemporaryDirectory(prefix="rankops-exp-overhead-") as tmp:
        settings = load_settings("local", environ={"RANKOPS_HOME": tmp})
        tables = sample.make_tables(n_queries=20, n_videos=300, seed=0)
        log_reference_model(settings, sample.FEATURES)
        ranker = load_ranker(settings, "models:/rankops-ranker@champion")
        source = sample.frame_source(tables)
        state = ExperimentState(settings, "rankops-ranker")
        log = ImpressionLog(Path(tmp) / "impressions")
        ids = tables["videos"]["video_id"].tolist()
        queries = tables["queries"]["query_text"].tolist()
        span = len(ids) - args.candidates
        reqs = [RerankRequest(query=queries[i % len(queries)], candidates=ids[(i * 13) % span:][:args.candidates])
                for i in range(args.requests)]

        def before(req: RerankRequest) -> None:
            rank(ranker, source, req, reject_unknown=True)

        def after(req: RerankRequest) -> None:
            started = time.perf_counter()
            frame = lookup_checked(source, req, reject_unknown=True)
            exp, challenger = state.active(ranker.version)
            routed = route(ranker, challenger, exp, frame, req.candidates, session_id="s", request_id="r",
                           scorer=state.scorer)
            log.write(impression_of(req, routed, request_id="r", session_id="s", champion=ranker, exp=exp,
                                    latency_ms=(time.perf_counter() - started) * 1000))
            [{"video_id": v, "score": s, "rank": r} for r, (v, s) in enumerate(zip(routed.video_ids, routed.scores,
                                                                                   strict=True), 1)]

        for req in reqs[:20]:
            before(req), after(req)
        cost: dict[str, list[float]] = {"before": [], "after": []}
        for req in reqs:
            for name, fn in (("before", before), ("after", after)):
                t = time.thread_time()
                fn(req)
                cost[name].append((time.thread_time() - t) * 1000)
        state.close()
        log.close()
    med = {k: statistics.median(v) for k, v in cost.items()}
    extra = med["after"] - med["before"]
    result = {"requests": len(reqs), "candidates": args.candidates, "cpu_ms_median": med,
              "overhead_ms": round(extra, 4), "overhead_share": round(extra / med["before"], 4)}
    print(json.dumps(result, indent=2))
    ok = extra <= 0.5 and extra / med["before"] <= 0.05
    print(f"\nchampion-only path: before {med['before']:.3f} ms CPU, after {med['after']:.3f} ms CPU "
          f"(+{extra:.3f} ms, {extra / med['before']:+.1%}); target {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
