"""False-alarm and detection rates of `rankops monitor` on generator data (prints figures; not a test).

    .venv/bin/python benchmarks/monitoring.py                          # 20 repeats, drift 0.5 and 1.0
    .venv/bin/python benchmarks/monitoring.py --repeats 3 --impressions 5000   # a quick look

Every data set goes the production way, in a RANKOPS_HOME of its own: `rankops data generate`
-> ETL (Spark) -> Feast apply -> point-in-time training set. A BM25 score (the evaluation
baseline, `evaluation.baseline.score_bm25`) plays the served model, so score drift and the
NDCG / CTR checks run as well. Each training set is kept as a snapshot in the benchmark's
lakehouse under --work, keyed by a hash of the generated files: a rerun after a threshold change
only re-runs the monitor, and a generator change rebuilds exactly the data sets whose bytes changed.

Repeat i (seed S = --seed + i):
- reference = the training set of seed S;
- self = the reference against itself;
- fresh = seed S + 1, no drift: a new sample from the same generator;
- drift d = seed S + 1 generated with `--drift d`: only the drift differs from `fresh`.
Repeats share data sets along the chain (fresh of repeat i is the reference of repeat i + 1).
The monitor runs as `rankops monitor` does (`run.assess`), minus the gold re-check: each data
set's gold passed the ETL gate in its own home. Target: false alarms (self and fresh) in <= 5 %
of repeats. Detection: the share of repeats that breach, and the first breached check (in the
monitor's order: quality, drift, score, performance); target >= 90 % at the strongest drift
(`components/datagen/drift.py` says what each strength changes).
"""

from __future__ import annotations

import argparse
import hashlib
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
DETECTION_TARGET = 0.9  # at the strongest --strengths value


def table_of(seed: int, drift: float, digest: str) -> str:
    return f"benchmark/training_set_s{seed}_d{drift:g}_{digest[:12]}"


def raw_digest(raw: Path) -> str:
    """sha256 over every generated file (path and bytes): the cache key of a data set."""
    h = hashlib.sha256()
    for path in sorted(raw.rglob("*")):
        if path.is_file():
            h.update(path.relative_to(raw).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


class Builder:
    """Training sets of generated data sets, cached in the benchmark lakehouse by the data's content.

    Generating is cheap (~1 s) and the ETL is not (~1 min): every data set is generated, hashed, and
    only built when no training set of exactly these bytes is cached, so a generator change (a new
    drift mechanism) rebuilds what it changed and nothing else. Spark starts on the first miss.
    """

    def __init__(self, work: Path, impressions: int, days: int):
        self.work, self.impressions, self.days = work, impressions, days
        self.spark = None
        self.built = 0

    def ref(self, seed: int, drift: float) -> str:
        from components.common.snapshots import SnapshotNotFound, SnapshotStore
        from components.datagen.generate import generate_dataset

        home = self.work / "homes" / f"s{seed}_d{drift:g}"
        shutil.rmtree(home, ignore_errors=True)
        generate_dataset(home / "raw", impressions=self.impressions, days=self.days, seed=seed, drift=drift)
        table = table_of(seed, drift, raw_digest(home / "raw"))
        try:
            ref = SnapshotStore(self.work / "lakehouse").latest(table).ref
        except SnapshotNotFound:
            ref = self._build(home, table, seed, drift)
        shutil.rmtree(home, ignore_errors=True)
        return ref

    def _build(self, home: Path, table: str, seed: int, drift: float) -> str:
        """generate (done) -> ETL -> Feast apply -> training set -> BM25 score, kept as `table`."""
        from components.common.config import load_settings
        from components.common.snapshots import SnapshotStore
        from components.common.spark import get_spark
        from components.etl.run import run_etl
        from components.evaluation.baseline import score_bm25
        from components.features.apply import run_apply
        from components.features.training_set import build_training_set

        t = time.perf_counter()
        if self.spark is None:
            self.spark = get_spark(load_settings("local", environ={"RANKOPS_HOME": str(self.work / "spark")}))
        settings = load_settings("local", environ={"RANKOPS_HOME": str(home)})
        run_etl(settings, home / "raw", self.spark)
        run_apply(settings)
        snap = build_training_set(settings)
        df = SnapshotStore.read_pandas(snap)
        df["score"] = score_bm25(df)
        ref = SnapshotStore(self.work / "lakehouse").write(table, df, extra=dict(snap.manifest["extra"]),
                                                            publish=True).ref
        self.built += 1
        print(f"  built seed {seed} drift {drift:g}: {len(df)} rows in {time.perf_counter() - t:.0f} s", flush=True)
        return ref

    def close(self) -> None:
        if self.spark is not None:
            self.spark.stop()


def monitor(settings, reference: str, current: str) -> dict:
    """The breached checks (in the monitor's order) and what each check measured."""
    from components.monitoring.run import assess

    result, *_ = assess(settings, reference=reference, current=current, gold_quality=False)
    perf = result["performance"]
    return {
        "checks": [b["check"] for b in result["breaches"]],
        "top_psi": max((d["psi"], d["column"]) for d in result["drift"]["per_column"] if d["psi"] is not None),
        "drifted": result["drift"]["drifted"],
        "columns": result["drift"]["columns"],
        "score_psi": result["score_drift"]["psi"],
        "ndcg_drop": perf["ndcg_reference"] - perf["ndcg_current"],
        "ctr_drop": 1 - perf["ctr_current"] / perf["ctr_reference"],
    }


def spread(values: list[float], fmt: str) -> str:
    return f"{median(values):{fmt}} [{min(values):{fmt}}, {max(values):{fmt}}]"


def share_line(name: str, hits: int, n: int, target: float | None) -> str:
    verdict = "" if target is None else f"   target <= {target:.0%}: {'met' if hits / n <= target else 'NOT met'}"
    return f"  {name:<28} {hits:>3}/{n} = {hits / n:6.1%}{verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--impressions", type=int, default=20000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=100)
    parser.add_argument("--strengths", type=float, nargs="*", default=[0.5, 1.0],
                        help="drift strengths to detect (none: false alarms only)")
    parser.add_argument("--work", type=Path, default=None,
                        help="cache of the data sets (default $RANKOPS_HOME/benchmarks/monitoring-<impressions>-<days>)")
    args = parser.parse_args()

    from components.common.config import load_settings

    home = Path(os.environ.get("RANKOPS_HOME", ".rankops"))
    work = (args.work or home / "benchmarks" / f"monitoring-{args.impressions}-{args.days}").resolve()
    settings = load_settings("local", environ={"RANKOPS_HOME": str(work)})
    seeds = [args.seed + i for i in range(args.repeats + 1)]
    print(f"monitor false alarms and detection: {args.repeats} repeats, {args.impressions:,} impressions over "
          f"{args.days} days per data set, drift {args.strengths}; cache {work}", flush=True)

    t = time.perf_counter()
    needed = [(s, 0.0) for s in seeds] + [(s, d) for s in seeds[1:] for d in args.strengths]
    builder = Builder(work, args.impressions, args.days)
    try:
        refs = {(s, d): builder.ref(s, d) for s, d in needed}
    finally:
        builder.close()
    built = time.perf_counter() - t

    t = time.perf_counter()
    seen: dict[str, list[dict]] = {"self": [], "fresh": [], **{f"drift {d:g}": [] for d in args.strengths}}
    for i in range(args.repeats):
        ref, nxt = seeds[i], seeds[i + 1]
        pairs = {"self": (ref, 0.0), "fresh": (nxt, 0.0), **{f"drift {d:g}": (nxt, d) for d in args.strengths}}
        for name, current in pairs.items():
            seen[name].append(monitor(settings, refs[(ref, 0.0)], refs[current]))
    outcomes = {name: [m["checks"] for m in ms] for name, ms in seen.items()}
    runs = sum(len(v) for v in outcomes.values())
    checked = time.perf_counter() - t

    n = args.repeats
    print(f"\ndata sets: {len(needed)} ({builder.built} built, {built:.0f} s); monitor runs: {runs} "
          f"({checked / runs:.2f} s each)")
    print("\nfalse alarms (share of repeats with any breach):")
    for name, label in (("self", "reference vs itself"), ("fresh", "reference vs fresh sample")):
        hits = [c for c in outcomes[name] if c]
        print(share_line(label, len(hits), n, FALSE_ALARM_TARGET))
        if hits:
            print(f"    checks: {dict(Counter(x for c in hits for x in c).most_common())}")
    strongest = max(args.strengths, default=None)
    print(f"\ndetection (share of repeats with any breach; target >= {DETECTION_TARGET:.0%} at the strongest drift):")
    for d in args.strengths:
        breached = [c for c in outcomes[f"drift {d:g}"] if c]
        print(share_line(f"drift {d:g} vs reference", len(breached), n, None))
        print(f"    first check: {dict(Counter(c[0] for c in breached).most_common())}")
        print(f"    any check:   {dict(Counter(x for c in breached for x in c).most_common())}")
    cfg = settings.monitoring
    print(f"\nwhat the checks measured (median over repeats [min, max]); a breach needs drifted columns >= "
          f"{cfg.drift_share_threshold:.0%} of them, score PSI > {cfg.score_psi_threshold}, NDCG@{cfg.ndcg_k} drop > "
          f"{cfg.max_ndcg_drop}, CTR@{cfg.ctr_k} relative drop > {cfg.max_ctr_drop}:")
    for name, ms in seen.items():
        columns = ms[0]["columns"]
        common = Counter(m["top_psi"][1] for m in ms if m["top_psi"][0] > 0).most_common(1)
        print(f"  {name:<10} drifted columns {spread([m['drifted'] for m in ms], 'g')} of {columns}; "
              f"largest PSI {spread([m['top_psi'][0] for m in ms], '.3f')} ({common[0][0] if common else '-'}); "
              f"score PSI {spread([m['score_psi'] for m in ms], '.3f')}; "
              f"NDCG drop {spread([m['ndcg_drop'] for m in ms], '.3f')}; "
              f"CTR drop {spread([m['ctr_drop'] for m in ms], '.2f')}")
    fa = max(sum(1 for c in outcomes[k] if c) for k in ("self", "fresh")) / n
    print(f"\nfalse-alarm target (<= {FALSE_ALARM_TARGET:.0%} of repeats): {'met' if fa <= FALSE_ALARM_TARGET else 'NOT met'}")
    if strongest is not None:
        hit = sum(1 for c in outcomes[f"drift {strongest:g}"] if c) / n
        print(f"detection target (>= {DETECTION_TARGET:.0%} of repeats at drift {strongest:g}): "
              f"{'met' if hit >= DETECTION_TARGET else 'NOT met'}")


if __name__ == "__main__":
    main()
