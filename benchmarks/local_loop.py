"""The local loop: `make run`'s end_to_end pipeline on the KFP local runner, per step and in total.

    .venv/bin/python benchmarks/local_loop.py                    # one probed run, then `make run` once
    .venv/bin/python benchmarks/local_loop.py --runs 2 --skip-make

Each run starts on a fresh RANKOPS_HOME (a temporary folder) with the install warm (venv built,
numba's on-disk cache filled by an earlier run), as a developer's second `make run` would.

1. A probed run (`rankops pipeline run end_to_end --local`, the command `make run` runs) with
   benchmarks/loop_probe on PYTHONPATH: every step process reports its wall time split into
   interpreter start, imports (top-level import statements), service start-up (Spark session,
   Feast FeatureStore, MLflow client) and the work left. The probe costs a little itself.
2. `make run` itself, unprobed: the total a user waits, and how many lines it prints.

Target (issue 18 part 4): the pipeline in <= 90 s on a quiet 2-core machine. The load average is
printed with every figure: on a shared machine the times are inflated, so compare runs made side
by side and read the verdict against the load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROBE = Path(__file__).resolve().parent / "loop_probe"
TARGET_S = 90.0


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def python_path(*first: str) -> str:
    return os.pathsep.join(p for p in (*first, os.environ.get("PYTHONPATH", "")) if p)


def run_probed(args, home: Path, probe_dir: Path, log: Path) -> float:
    code = [str(args.code)] if args.code else []
    env = {**os.environ, "RANKOPS_HOME": str(home), "RANKOPS_LOOP_PROBE": str(probe_dir),
           "PYTHONPATH": python_path(str(PROBE), *code),
           "SPARK_LOCAL_IP": "127.0.0.1", "PYTHONUNBUFFERED": "1"}
    cmd = [str(ROOT / ".venv/bin/rankops"), "pipeline", "run", "end_to_end", "--local",
           "-p", f"impressions={args.impressions}", "-p", f"days={args.days}",
           "--summary", str(home / "reports/end-to-end.json")]
    started = time.perf_counter()
    with log.open("w") as out:
        rc = subprocess.call(cmd, cwd=args.code or ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if rc != 0:
        sys.exit(f"the pipeline failed (exit {rc}); its output: {log}")
    return seconds


def step_table(probe_dir: Path, total: float) -> None:
    records = [{**json.loads(p.read_text()), "ended": p.stat().st_mtime} for p in probe_dir.glob("*.json")]
    records = [r for r in records if r["task"]]
    records.sort(key=lambda r: r["ended"] - r["wall"])  # in the order the steps started
    head = f"  {'step':<26} {'wall':>6} {'interp':>6} {'import':>6} {'start-up':>22} {'work':>6}"
    print(head)
    sums = dict.fromkeys(("wall", "interpreter", "imports", "startup", "work"), 0.0)
    for r in records:
        startup = sum(r["startup"].values())
        work = r["wall"] - r["interpreter"] - r["imports"] - startup
        kinds = " ".join(f"{k} {v:.1f}" for k, v in sorted(r["startup"].items())) or "-"
        print(f"  {r['task']:<26} {r['wall']:6.1f} {r['interpreter']:6.1f} {r['imports']:6.1f} "
              f"{kinds:>22} {work:6.1f}")
        for key, value in (("wall", r["wall"]), ("interpreter", r["interpreter"]), ("imports", r["imports"]),
                           ("startup", startup), ("work", work)):
            sums[key] += value
    print(f"  {'sum of steps':<26} {sums['wall']:6.1f} {sums['interpreter']:6.1f} {sums['imports']:6.1f} "
          f"{sums['startup']:22.1f} {sums['work']:6.1f}")
    print(f"  {'outside the steps':<26} {total - sums['wall']:6.1f}   (CLI start, compiling the pipeline, "
          "kfp.local between steps)")
    print(f"  {'pipeline total':<26} {total:6.1f}")
    print("  heavy imports per step (seconds, by the name the statement imported; > 0.3 s):")
    for r in records:
        heavy = sorted(((s, m) for m, s in r.get("modules", {}).items() if s > 0.3), reverse=True)
        if heavy:
            print(f"    {r['task']:<24} " + ", ".join(f"{m} {s:.1f}" for s, m in heavy[:6]))


def run_make(args, home: Path, log: Path) -> tuple[float, int]:
    env = {**os.environ, "RANKOPS_HOME": str(home)}
    if args.code:
        env["PYTHONPATH"] = python_path(str(args.code))
    started = time.perf_counter()
    with log.open("w") as out:
        rc = subprocess.call(["make", "-s", "run", f"VENV={ROOT / '.venv'}"], cwd=args.code or ROOT, env=env,
                             stdout=out, stderr=subprocess.STDOUT)
    seconds = time.perf_counter() - started
    if rc != 0:
        sys.exit(f"make run failed (exit {rc}); its output: {log}")
    return seconds, len(log.read_text(errors="replace").splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--impressions", type=int, default=20000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1, help="probed runs")
    parser.add_argument("--skip-make", action="store_true", help="no unprobed `make run`")
    parser.add_argument("--code", type=Path, default=None,
                        help="run another git checkout (e.g. `git clone -q --shared . DIR && git -C DIR checkout BASE`; "
                             "the promotion step needs a git repository) with this venv, for "
                             "before/after side by side: the run starts in DIR (a step's `python -m` puts its working "
                             "directory first on sys.path, before the editable install) with DIR on PYTHONPATH")
    parser.add_argument("--workdir", type=Path, default=None, help="keep homes and logs here (default: a temp dir)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="rankops-loop-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"local loop: end_to_end, {args.impressions:,} impressions over {args.days} days, {os.cpu_count()} CPUs; "
          f"work in {workdir}")
    for i in range(args.runs):
        probe_dir = workdir / f"probe-{i}"
        probe_dir.mkdir(exist_ok=True)
        before = load()
        total = run_probed(args, workdir / f"home-{i}", probe_dir, workdir / f"probed-{i}.log")
        print(f"\n[{i + 1}] probed run: {total:.1f} s (load average before {before}, after {load()})")
        step_table(probe_dir, total)
    if not args.skip_make:
        before = load()
        seconds, lines = run_make(args, workdir / "home-make", workdir / "make-run.log")
        verdict = "met" if seconds <= TARGET_S else "NOT met"
        print(f"\nmake run (warm install, fresh RANKOPS_HOME): {seconds:.1f} s, {lines} lines of output "
              f"(load average before {before}, after {load()})")
        print(f"target <= {TARGET_S:.0f} s on a quiet 2-core machine: {verdict} at this load")


if __name__ == "__main__":
    main()
