"""Feature-store latency and throughput (prints figures): online lookups on SQLite and Redis,
historical (point-in-time) retrieval rows/s.

    .venv/bin/python benchmarks/features.py --queries 2000 --videos 5000 --iterations 300

Target: 50-entity online lookup p99 <= 5 ms on Redis. Three readers are timed:
`sdk` = FeatureStore.get_online_features only; `api` = get_online_features() of
components/features/online.py (SDK + the model frame with defaults); `direct` = the same API
with features.online_reader=redis_direct (one pipelined HMGET over Feast's Redis layout).
A redis-server is started on a free loopback port unless --redis HOST:PORT is given.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from components.common.config import load_settings


def percentiles(fn, iterations: int) -> tuple[float, float, float]:
    """Wall p50, p99 and mean CPU ms of this process per call (CPU time is what a busy box inflates least)."""
    for _ in range(min(20, iterations)):
        fn()  # warm-up
    times = []
    cpu = time.process_time()
    for _ in range(iterations):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    cpu_ms = (time.process_time() - cpu) * 1000 / iterations
    return float(np.percentile(times, 50)), float(np.percentile(times, 99)), cpu_ms


def make_call(reader: str, n: int, rng: random.Random, queries: list[str], videos: list[str], store, service, cfg):
    """One lookup of `n` random candidates for a random query through `reader`."""
    from components.etl.normalize import query_id_of
    from components.features.online import get_online_features

    def call() -> None:
        q, vids = rng.choice(queries), rng.sample(videos, n)
        if reader == "sdk":
            qid = query_id_of(q)
            store.get_online_features(features=service,
                                      entity_rows=[{"query_id": qid, "video_id": v} for v in vids]).to_dict()
        else:
            get_online_features(cfg, q, vids)

    return call


def bench_online(cfg, label: str, videos: list[str], queries: list[str], iterations: int, readers: list[str]) -> None:
    from components.features.online import clear_online_cache, online_context
    from components.features.store_config import open_store

    rng = random.Random(1)
    for reader in readers:
        clear_online_cache()
        run_cfg = cfg.model_copy(deep=True)
        if reader == "direct":
            run_cfg.features.online_reader = "redis_direct"
        ctx = online_context(run_cfg, "ranker_v1")
        store = open_store(run_cfg)
        for n in (1, 50):
            call = make_call(reader, n, rng, queries, videos, store, ctx.service, run_cfg)
            p50, p99, cpu = percentiles(call, iterations)
            print(f"{label:<8} {reader:<7} {n:>4} {p50:>9.2f} {p99:>9.2f} {cpu:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--videos", type=int, default=5000)
    parser.add_argument("--per-query", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--redis", help="HOST:PORT of a running redis (default: start one)")
    parser.add_argument("--skip-redis", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support, run as a script

    from components.features.apply import run_apply
    from components.features.materialize import run_materialize
    from components.features.training_set import build_training_set
    from tests.support.feature_data import make_gold, publish_gold
    from tests.support.redis_server import redis_server

    home = Path(tempfile.mkdtemp(prefix="rankops-bench-features-"))
    stack = ExitStack()
    try:
        cfg = load_settings("local", environ={"RANKOPS_HOME": str(home / "sqlite")})
        t = time.perf_counter()
        gold = make_gold(args.queries, args.videos, args.per_query, days=1)
        print(f"gold: {args.queries} queries, {args.videos} videos, {len(gold['gold/query_video_features'])} pairs "
              f"({time.perf_counter() - t:.1f} s to build)")
        publish_gold(cfg, gold)
        run_apply(cfg)
        t = time.perf_counter()
        run_materialize(cfg)
        print(f"materialize to SQLite: {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        snap = build_training_set(cfg, "ranker_v1")
        sec = time.perf_counter() - t
        print(f"historical retrieval (file store, ranker_v1): {snap.row_count} rows in {sec:.1f} s "
              f"= {snap.row_count / sec:,.0f} rows/s")
        queries = [f"query {i}" for i in range(args.queries)]
        from components.etl.normalize import video_id_of

        videos = [video_id_of(f"https://example.com/v/{j}") for j in range(args.videos)]
        print(f"{'store':<8} {'reader':<7} {'n':>4} {'p50 ms':>9} {'p99 ms':>9} {'cpu ms':>9}")
        print(f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        bench_online(cfg, "sqlite", videos, queries, args.iterations, ["sdk", "api"])
        if args.skip_redis:
            return
        address = args.redis or stack.enter_context(redis_server())
        rcfg = load_settings("local", environ={"RANKOPS_HOME": str(home / "redis"),
                                               "RANKOPS_FEATURES__ONLINE_STORE_TYPE": "redis",
                                               "RANKOPS_FEATURES__ONLINE_STORE_PATH": address,
                                               "RANKOPS_FEATURES__ONLINE_READER": "sdk"})  # "direct" below
        publish_gold(rcfg, gold)
        run_apply(rcfg)
        t = time.perf_counter()
        run_materialize(rcfg)
        print(f"materialize to Redis: {time.perf_counter() - t:.1f} s")
        bench_online(rcfg, "redis", videos, queries, args.iterations, ["sdk", "api", "direct"])
    finally:
        stack.close()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
