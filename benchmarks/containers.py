"""What running as the cluster does costs (prints figures; not a test).

    .venv/bin/python benchmarks/containers.py [--impressions 20000] [--days 3] [--starts 10]

1. `make run` (kfp.local SubprocessRunner, local profile) and `make run-containers` (every step in
   the image over podman, dev profile services) on the same data, each in a fresh RANKOPS_HOME:
   wall time of the whole command and of each step (from kfp.local's task log lines).
2. The bare per-step container overhead: a trivial step (`python3 -c pass`) started with the pod
   security of the run (uid 10001, read-only root, tmpfs /tmp, host network), against the same
   command as a host subprocess; median of `--starts` runs.
Targets: container start overhead <= 2 s per step; the pipeline's steps in containers <= 1.5x
their time on the local runner (the services' start and the ranker check are reported apart).
Needs the image (`make images`) and podman.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RANKOPS = str(Path(sys.executable).with_name("rankops"))
LINE = re.compile(r"^(\d\d:\d\d:\d\d\.\d+) - \w+ - (?:Executing task|Task) '([\w-]+)'( finished)?")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def step_seconds(log: str) -> dict[str, float]:
    """{task: seconds} from kfp.local's 'Executing task' / 'finished with status' lines (retries summed)."""
    starts: dict[str, datetime] = {}
    out: dict[str, float] = {}
    for raw in log.splitlines():
        match = LINE.match(ANSI.sub("", raw))
        if not match:
            continue
        stamp, task, finished = datetime.strptime(match.group(1), "%H:%M:%S.%f"), match.group(2), match.group(3)
        if finished and task in starts:
            out[task] = out.get(task, 0.0) + (stamp - starts.pop(task)).total_seconds() % 86400
        elif not finished:
            starts[task] = stamp
    return out


def timed(cmd: list[str], home: Path) -> tuple[float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RANKOPS_")}
    # the same generous latency budget for both runs: a loaded box must not fail the staging gate midway
    env.update(RANKOPS_HOME=str(home), SPARK_LOCAL_IP="127.0.0.1", COLUMNS="200",
               RANKOPS_PROMOTION__LATENCY_BUDGET_MS="5000")
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd[:4])} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return seconds, proc.stdout + proc.stderr


def container_start_overhead(starts: int) -> tuple[float, float]:
    """(median s of a trivial step in a container, median s of it as a host subprocess)."""
    from components.common.image import IMAGE
    from pipelines.containers.engine import open_engine, pod_security

    engine = open_engine()
    empty = Path(tempfile.mkdtemp(prefix="rankops-bench-"))
    try:
        box, host = [], []
        for _ in range(starts):
            t = time.perf_counter()
            c = engine.client.containers.run(IMAGE, entrypoint=["python3", "-c", "pass"], detach=True,
                                             network_mode="host", **pod_security(empty))
            assert c.wait()["StatusCode"] == 0
            c.remove()
            box.append(time.perf_counter() - t)
            t = time.perf_counter()
            subprocess.run([sys.executable, "-c", "pass"], check=True)
            host.append(time.perf_counter() - t)
        return statistics.median(box), statistics.median(host)
    finally:
        engine.close()
        empty.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--impressions", type=int, default=20000)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--starts", type=int, default=10)
    args = parser.parse_args()
    params = ["-p", f"impressions={args.impressions}", "-p", f"days={args.days}"]

    box, host = container_start_overhead(args.starts)
    overhead = box - host
    print(f"trivial step: container {box:.2f} s vs host subprocess {host:.2f} s (median of {args.starts}): "
          f"overhead {overhead:.2f} s per step -> {'met' if overhead <= 2.0 else 'NOT met'} (<= 2 s)")

    with tempfile.TemporaryDirectory() as tmp:
        local_s, local_log = timed([RANKOPS, "pipeline", "run", "end_to_end", "--local", *params], Path(tmp) / "a")
        summary = Path(tmp) / "containers.json"
        boxed_s, boxed_log = timed([RANKOPS, "containers", "run", *params, "--summary", str(summary)], Path(tmp) / "b")
        result = json.loads(summary.read_text())
    local_steps, boxed_steps = step_seconds(local_log), step_seconds(boxed_log)
    print(f"\nmake run: {local_s:.1f} s; make run-containers: {boxed_s:.1f} s "
          f"(services {result['services']['seconds']:.1f} s, pipeline {result['pipeline_seconds']:.1f} s, "
          f"ranker + approval {result.get('ranker', {}).get('seconds', 0):.1f} s)")
    print(f"{'step':<22} {'local s':>8} {'container s':>12} {'delta s':>8}")
    for task in sorted(local_steps, key=lambda t: -local_steps[t]):
        a, b = local_steps[task], boxed_steps.get(task, float("nan"))
        print(f"{task:<22} {a:8.1f} {b:12.1f} {b - a:8.1f}")
    ratio = sum(boxed_steps.values()) / sum(local_steps.values())
    print(f"steps in containers / on the local runner: {ratio:.2f}x -> {'met' if ratio <= 1.5 else 'NOT met'} (<= 1.5x)")


if __name__ == "__main__":
    main()
