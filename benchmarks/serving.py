"""Online ranker load test and fuzz (loopback only, bounded in count and time, stops by itself).

    .venv/bin/python benchmarks/serving.py --requests 2000 --seconds 60 --fuzz 10000

Builds a throw-away RANKOPS_HOME: synthetic gold -> Feast apply + materialise (SQLite online
store), a tiny ELECTRA trained for a few steps and registered as `champion`, then starts the real
`rankops serve` in a subprocess and measures POST /rerank with 50 candidates: requests/s, p50/p99
latency (client side, feature lookup included) and errors; then sends malformed requests and
counts the status codes. Target: p99 <= 50 ms, 0 errors, 0 x 5xx in the fuzz run.
`--model reference` swaps ELECTRA for the linear reference ranker (serving overhead only).
`--experiment MODE` (shadow, ab, interleave) then pins an A/A experiment (the champion version as its
own challenger) through the experiment file of the running server and repeats the load phase: the
side-by-side figure of the champion-only path against the experiment's cost.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_home(home: Path, model: str, n_videos: int) -> dict:
    """Gold -> Feast (applied, materialised) -> a registered champion; returns queries and video ids."""
    from mlflow import MlflowClient

    from components.common.config import load_settings
    from components.common.mlflow_client import use_mlflow
    from components.features.apply import run_apply
    from components.features.materialize import run_materialize
    from components.features.training_set import build_training_set
    from tests.support.feature_data import make_gold, publish_gold

    settings = load_settings("local", environ={"RANKOPS_HOME": str(home)})
    gold = make_gold(n_queries=40, n_videos=n_videos, per_query=10, days=1)
    publish_gold(settings, gold)
    run_apply(settings)
    run_materialize(settings)
    train = build_training_set(settings)
    name = settings.registry.model_name
    if model == "reference":
        from tests.support.reference_model import log_reference_model

        info = log_reference_model(settings, train.manifest["extra"]["features"])
        version = info["version"]
    else:
        from components.training.api import train as train_model

        result = train_model(settings, training_set=train.ref, params={"max_steps": 10, "eval_every": 10,
                             "checkpoint_every": 10, "system_metrics": False}, validate=False)
        use_mlflow(settings)
        import mlflow

        version = mlflow.register_model(result.model_uri, name).version
        MlflowClient(settings.tracking_uri, settings.tracking_uri).set_registered_model_alias(name, "champion", version)
    from components.common.contract import GOLD_QUERY, GOLD_VIDEO

    return {"queries": sorted(set(gold[GOLD_QUERY]["query_text"])), "videos": sorted(set(gold[GOLD_VIDEO]["video_id"])),
            "version": str(version), "features": train.manifest["extra"]["features"]}


def start_server(home: Path, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "RANKOPS_HOME": str(home), "RANKOPS_ENV": "local",
           "RANKOPS_SERVING__RELOAD_INTERVAL_S": "0", "OMP_NUM_THREADS": "2",
           "RANKOPS_SERVING__EXPERIMENT_FILE": str(home / "experiment.yaml"),
           "RANKOPS_SERVING__EXPERIMENT_CHECK_S": "0.5"}
    (home / "experiment.yaml").write_text("")
    cmd = [str(ROOT / ".venv/bin/rankops"), "serve", "--port", str(port)]
    if not Path(cmd[0]).exists():
        cmd = [sys.executable, "-m", "pipelines.cli", "serve", "--port", str(port)]
    return subprocess.Popen(cmd, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, cwd=str(ROOT))


def wait_ready(client, url: str, proc: subprocess.Popen, timeout: float) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if client.get(f"{url}/readyz", timeout=2).status_code == 200:
                return time.perf_counter() - started
        except Exception:
            pass
        time.sleep(0.25)
    raise TimeoutError(f"server not ready after {timeout} s")


def load_test(url: str, data: dict, *, requests: int, seconds: float, clients: int, candidates: int) -> dict:
    """Closed-loop load from `clients` threads; stops at `requests` total or `seconds`, whichever first."""
    import httpx

    rng = random.Random(0)
    payloads = [json.dumps({"query": rng.choice(data["queries"]),
                            "candidates": rng.sample(data["videos"], candidates)}).encode() for _ in range(200)]
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = float("inf")

    def worker() -> None:
        nonlocal deadline
        with httpx.Client(timeout=10, headers={"content-type": "application/json"}) as client:
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                t = time.perf_counter()
                try:
                    code = str(client.post(f"{url}/rerank", content=payloads[i % len(payloads)]).status_code)
                except Exception as exc:
                    code = type(exc).__name__
                took = time.perf_counter() - t
                with lock:
                    if code == "200":
                        latencies.append(took)
                    else:
                        errors[code] = errors.get(code, 0) + 1

    for _ in range(20):  # warm-up, not counted
        httpx.post(f"{url}/rerank", content=payloads[0], headers={"content-type": "application/json"})
    started = time.perf_counter()
    deadline = started + seconds
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {"clients": clients, "candidates": candidates, "ok": len(latencies), "errors": errors,
            "error_count": sum(errors.values()), "seconds": round(wall, 2),
            "req_per_s": round(len(latencies) / wall, 1) if wall else None,
            "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
            "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
            "max_ms": round(float(ms.max()), 2) if len(ms) else None}


def pin_experiment(home: Path, url: str, mode: str, version: str, timeout: float = 120) -> None:
    """An A/A experiment in `mode` through the running server's experiment file; waits until it is live."""
    import httpx

    (home / "experiment.yaml").write_text(f"name: bench-{mode}\nmode: {mode}\nchampion: '{version}'\n"
                                          f"challenger: '{version}'\nlatency_budget_ms: 1000\n")
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if httpx.get(f"{url}/experiment", timeout=5).json()["active"]:
            return
        time.sleep(0.5)
    raise TimeoutError(f"experiment {mode} not live after {timeout} s")


def fuzz(url: str, data: dict, *, n: int, seconds: float) -> dict:
    import httpx

    from tests.support.fuzz import malformed_requests

    codes: dict[str, int] = {}
    deadline = time.perf_counter() + seconds
    sent = 0
    with httpx.Client(timeout=10) as client:
        for body, ctype in malformed_requests(n, data["videos"], seed=11):
            if time.perf_counter() > deadline:
                break
            headers = {"content-type": ctype} if ctype else {}
            try:
                code = str(client.post(f"{url}/rerank", content=body, headers=headers).status_code)
            except Exception as exc:
                code = type(exc).__name__
            codes[code] = codes.get(code, 0) + 1
            sent += 1
    five = sum(v for k, v in codes.items() if k.startswith("5") or not k.isdigit())
    return {"sent": sent, "status_counts": dict(sorted(codes.items())), "server_errors": five}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=60, help="Time bound of the load phase.")
    ap.add_argument("--clients", type=int, default=1)
    ap.add_argument("--candidates", type=int, default=50)
    ap.add_argument("--fuzz", type=int, default=10_000)
    ap.add_argument("--fuzz-seconds", type=float, default=120)
    ap.add_argument("--model", choices=["electra", "reference"], default="electra")
    ap.add_argument("--videos", type=int, default=500)
    ap.add_argument("--experiment", choices=["off", "shadow", "ab", "interleave"], default="off",
                    help="Repeat the load phase with an A/A experiment of this mode (side-by-side figure).")
    ap.add_argument("--home", help="Build (or reuse) the RANKOPS_HOME here instead of a temp dir.")
    ap.add_argument("--out", help="Write the figures as JSON here.")
    args = ap.parse_args()

    import httpx

    with tempfile.TemporaryDirectory(prefix="rankops-serving-bench-") as tmp:
        home = Path(args.home or tmp)
        t = time.perf_counter()
        cached = home / "bench-data.json"
        if args.home and cached.exists():
            data = json.loads(cached.read_text())
        else:
            data = build_home(home, args.model, args.videos)
            cached.write_text(json.dumps(data))
        setup_s = time.perf_counter() - t
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_server(home, port, home / "server.log")
        try:
            with httpx.Client() as c:
                ready_s = wait_ready(c, url, proc, timeout=120)
            load = load_test(url, data, requests=args.requests, seconds=args.seconds, clients=args.clients,
                             candidates=args.candidates)
            with_exp = None
            if args.experiment != "off":
                pin_experiment(home, url, args.experiment, data["version"])
                with_exp = load_test(url, data, requests=args.requests, seconds=args.seconds, clients=args.clients,
                                     candidates=args.candidates)
            fz = fuzz(url, data, n=args.fuzz, seconds=args.fuzz_seconds) if args.fuzz else None
            metrics = httpx.get(f"{url}/metrics").text
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        alive = proc.returncode is not None
        result = {"model": args.model, "model_version": data["version"], "setup_s": round(setup_s, 1),
                  "server_ready_s": round(ready_s, 1), "cores": os.cpu_count(), "load": load, "fuzz": fz,
                  "experiment": args.experiment, "load_with_experiment": with_exp,
                  "server_stopped": alive,
                  "metrics_errors_internal": sum(float(line.split()[-1]) for line in metrics.splitlines()
                                                 if line.startswith('rankops_errors_total{kind="internal"}'))}
    print(json.dumps(result, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    ok = load["error_count"] == 0 and (load["p99_ms"] or 1e9) <= 50 and (fz is None or fz["server_errors"] == 0)
    print(f"\n{args.model}: {load['req_per_s']} req/s, p50 {load['p50_ms']} ms, p99 {load['p99_ms']} ms, "
          f"{load['error_count']} errors; fuzz {fz['sent'] if fz else 0} malformed -> "
          f"{fz['server_errors'] if fz else 0} x 5xx; target {'MET' if ok else 'NOT MET'}")
    if with_exp:
        print(f"side by side: experiment off p50 {load['p50_ms']} / p99 {load['p99_ms']} ms, "
              f"{args.experiment} (A/A) p50 {with_exp['p50_ms']} / p99 {with_exp['p99_ms']} ms, "
              f"{with_exp['error_count']} errors")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
