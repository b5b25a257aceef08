"""False-alarm and detection rates of `rankops monitor` on generator data (prints figures; not a test).

    .venv/bin/python benchmarks/monitoring.py                          # 20 repeats, drift 0.5 and 1.0
    .venv/bin/python benchmarks/monitoring.py --repeats 3 --impressions 5000   # a quick look

Every data set goes the production way, in a RANKOPS_HOME of its own: `rankops data generate`
-> ETL (Spark) -> Feast apply -> point-in-time training set. A BM25 score (the evaluation
baseline, `evaluation.baseline.score_bm25`) plays the served model, so score drift and the
NDCG / CTR checks run as well. Each training set is kept as a snapshot in the benchmark's
lakehouse under --work, so a rerun (say after a threshold change) only re-runs the monitor.

Repeat i (seed S = --seed + i):
- reference = the training set of seed S;
- self = the reference against itself;
- fresh = seed S + 1, no drift: a new sample from the same generator;
- drift d = seed S + 1 generated with `--drift d`: only the drift differs from `fresh`.
Repeats share data sets along the chain (fresh of repeat i is the reference of repeat i + 1).
The monitor runs as `rankops monitor` does (`run.assess`), minus the gold re-check: each data
set's gold passed the ETL gate in its own home. Target: false alarms (self and fresh) in <= 5 %
of repeats. Detection has no target in issue 21: the rates and the first breached check (in the
monitor's order: quality, drift, score, performance) are reported.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path
from statistics import median

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

FALSE_ALARM_TARGET = 0.05


def table_of(seed: int, drift: float) -> str:
    return f"benchmark/training_set_s{seed}_d{drift:g}"


def build(work: Path, spark, seed: int, drift: float, impressions: int, days: int) -> str:
    """The training set of one generated data set, as a snapshot in the benchmark lakehouse (cached)."""
    from components.common.config import load_settings
    from components.common.snapshots import SnapshotNotFound, SnapshotStore
    from components.datagen.generate import generate_dataset
    from components.etl.run import run_etl
    from components.evaluation.baseline import score_bm25
    from components.features.apply import run_apply
    from components.features.training_set import build_training_set

    lake = SnapshotStore(work / "lakehouse")
    table = table_of(seed, drift)
    try:
        return lake.latest(table).ref
    except SnapshotNotFound:
        pass
    t = time.perf_counter()
    home = work / "homes" / f"s{seed}_d{drift:g}"
    shutil.rmtree(home, ignore_errors=True)
    settings = load_settings("local", environ={"RANKOPS_HOME": str(home)})
    generate_dataset(home / "raw", impressions=impressions, days=days, seed=seed, drift=drift)
    run_etl(settings, home / "raw", spark)
    run_apply(settings)
    snap = build_training_set(settings)
    df = SnapshotStore.read_pandas(snap)
    df["score"] = score_bm25(df)
    ref = lake.write(table, df, extra=dict(snap.manifest["extra"]), publish=True).ref
    shutil.rmtree(home, ignore_errors=True)
    print(f"  built seed {seed} drift {drift:g}: {len(df)} rows in {time.perf_counter() - t:.0f} s", flush=True)
    return ref


def monitor(settings, reference: str, current: str) -> tuple[list[str], tuple[float, str]]:
    """The breached checks, in the monitor's order, and the largest per-entity PSI with its column."""
    from components.monitoring.run import assess

    result, *_ = assess(settings, reference=reference, current=current, gold_quality=False)
    top = max((d["psi"], d["column"]) for d in result["drift"]["per_column"] if d["psi"] is not None)
    return [b["check"] for b in result["breaches"]], top


def share_line(name: str, hits: int, n: int, target: float | None) -> str:
    verdict = "" if target is None else f"   target <= {target:.0%}: {'met' if hits / n <= target else 'NOT met'}"
    return f"  {name:<28} {hits:>3}/{n} = {hits / n:6.1%}{verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--impressions", type=int, default=20000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.5, 1.0])
    parser.add_argument("--work", type=Path, default=None,
                        help="cache of the data sets (default $RANKOPS_HOME/benchmarks/monitoring-<impressions>-<days>)")
    args = parser.parse_args()

    from components.common.config import load_settings
    from components.common.spark import get_spark

    home = Path(os.environ.get("RANKOPS_HOME", ".rankops"))
    work = (args.work or home / "benchmarks" / f"monitoring-{args.impressions}-{args.days}").resolve()
    settings = load_settings("local", environ={"RANKOPS_HOME": str(work)})
    seeds = [args.seed + i for i in range(args.repeats + 1)]
    print(f"monitor false alarms and detection: {args.repeats} repeats, {args.impressions:,} impressions over "
          f"{args.days} days per data set, drift {args.strengths}; cache {work}", flush=True)

    t = time.perf_counter()
    spark = None
    needed = [(s, 0.0) for s in seeds] + [(s, d) for s in seeds[1:] for d in args.strengths]
    lake_root = work / "lakehouse"
    missing = [(s, d) for s, d in needed if not (lake_root / table_of(s, d) / "_latest.json").exists()]
    if missing:
        print(f"building {len(missing)} data sets (generate -> ETL -> Feast -> training set)", flush=True)
        spark = get_spark(load_settings("local", environ={"RANKOPS_HOME": str(work / "spark")}))
    refs = {(s, d): build(work, spark, s, d, args.impressions, args.days) for s, d in needed}
    if spark is not None:
        spark.stop()
    built = time.perf_counter() - t

    t = time.perf_counter()
    outcomes: dict[str, list[list[str]]] = {"self": [], "fresh": [], **{f"drift {d:g}": [] for d in args.strengths}}
    tops: dict[str, list[tuple[float, str]]] = {k: [] for k in outcomes}
    for i in range(args.repeats):
        ref, nxt = seeds[i], seeds[i + 1]
        pairs = {"self": (ref, 0.0), "fresh": (nxt, 0.0), **{f"drift {d:g}": (nxt, d) for d in args.strengths}}
        for name, current in pairs.items():
            checks, top = monitor(settings, refs[(ref, 0.0)], refs[current])
            outcomes[name].append(checks)
            tops[name].append(top)
    runs = sum(len(v) for v in outcomes.values())
    checked = time.perf_counter() - t

    n = args.repeats
    print(f"\ndata sets: {len(needed)} ({len(missing)} built, {built:.0f} s); monitor runs: {runs} "
          f"({checked / runs:.2f} s each)")
    print("\nfalse alarms (share of repeats with any breach):")
    for name, label in (("self", "reference vs itself"), ("fresh", "reference vs fresh sample")):
        hits = [c for c in outcomes[name] if c]
        print(share_line(label, len(hits), n, FALSE_ALARM_TARGET))
        if hits:
            print(f"    checks: {dict(Counter(x for c in hits for x in c).most_common())}")
    print("\ndetection (share of repeats with any breach; no target set):")
    for d in args.strengths:
        breached = [c for c in outcomes[f"drift {d:g}"] if c]
        print(share_line(f"drift {d:g} vs reference", len(breached), n, None))
        print(f"    first check: {dict(Counter(c[0] for c in breached).most_common())}")
        print(f"    any check:   {dict(Counter(x for c in breached for x in c).most_common())}")
    print("\nlargest per-entity PSI of any numeric feature (median over repeats; drifted needs > "
          f"{settings.monitoring.psi_threshold} and KS p < {settings.monitoring.ks_pvalue_threshold}):")
    for name, values in tops.items():
        common = Counter(c for v, c in values if v > 0).most_common(1)
        print(f"  {name:<10} {median(v for v, _ in values):.4f} (max {max(v for v, _ in values):.4f}; "
              f"most often {common[0][0] if common else '-'})")
    fa = max(sum(1 for c in outcomes[k] if c) for k in ("self", "fresh")) / n
    print(f"\nfalse-alarm target (<= {FALSE_ALARM_TARGET:.0%} of repeats): {'met' if fa <= FALSE_ALARM_TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
