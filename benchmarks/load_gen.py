"""The load generator of `benchmarks/serving.py`: a closed loop (saturation) and an open loop
(Poisson arrivals, latency from the scheduled arrival) against POST /rerank, with the server's own
share of each response from its `Server-Timing` header."""

from __future__ import annotations

import threading
import time

import numpy as np


def summarise(latencies: list[float], errors: dict[str, int], wall: float) -> dict:
    ms = np.array(latencies) * 1000
    pct = {f"p{q}_ms": round(float(np.percentile(ms, q)), 2) if len(ms) else None for q in (50, 99)}
    return {"ok": len(latencies), "errors": errors, "error_count": sum(errors.values()), "seconds": round(wall, 2),
            "req_per_s": round(len(latencies) / wall, 1) if wall else None, **pct,
            "max_ms": round(float(ms.max()), 2) if len(ms) else None}


SERVER_MS: list[dict[str, float]] = []  # the Server-Timing entries (ms by name) of every 200 of the phase


def server_timing(header: str) -> dict[str, float]:
    """`app;dur=8.1, lookup;dur=2.2` -> {"app": 8.1, "lookup": 2.2}."""
    out = {}
    for entry in header.split(","):
        name, _, rest = entry.strip().partition(";")
        if rest.startswith("dur="):
            out[name] = float(rest[4:])
    return out


def post(client, url: str, body: bytes) -> str:
    try:
        resp = client.post(f"{url}/rerank", content=body)
    except Exception as exc:
        return type(exc).__name__
    timing = resp.headers.get("server-timing", "")
    if resp.status_code == 200 and "dur=" in timing:
        SERVER_MS.append(server_timing(timing))
    return str(resp.status_code)


def load_test(url: str, payloads: list[bytes], *, requests: int, seconds: float, clients: int) -> dict:
    """Closed loop (saturation): `clients` threads send back to back; stops at `requests` or `seconds`."""
    import httpx

    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        with httpx.Client(timeout=10, headers={"content-type": "application/json"}) as client:
            for i in counter:
                if time.perf_counter() > deadline:
                    return
                t = time.perf_counter()
                code = post(client, url, payloads[i % len(payloads)])
                with lock:
                    latencies.append(time.perf_counter() - t) if code == "200" else errors.update(
                        {code: errors.get(code, 0) + 1})

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return {"mode": "closed", "clients": clients, **summarise(latencies, errors, time.perf_counter() - started)}


def open_loop(url: str, payloads: list[bytes], *, rate: float, seconds: float, seed: int = 0) -> dict:
    """Poisson arrivals at `rate`/s for `seconds`, each sent on time from a pool; latency counts from the
    scheduled arrival, so a server that falls behind is charged its queueing (no coordinated omission)."""
    import queue
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    SERVER_MS.clear()
    arrivals = np.cumsum(np.random.default_rng(seed).exponential(1 / rate, size=int(rate * seconds * 1.5) + 10))
    arrivals = arrivals[arrivals < seconds]
    # clients made before the clock starts: building one costs 16-50 ms here (httpx loads an SSL
    # context), which a lazily made client would charge to the request that happens to make it
    clients: queue.LifoQueue = queue.LifoQueue()  # LIFO: the warm connection goes out again first
    for _ in range(32):
        clients.put(httpx.Client(timeout=10, headers={"content-type": "application/json"}))
    latencies: list[float] = []
    errors: dict[str, int] = {}
    lock = threading.Lock()

    def send(i: int, due: float) -> None:
        client = clients.get()
        try:
            code = post(client, url, payloads[i % len(payloads)])
        finally:
            clients.put(client)
        took = time.perf_counter() - due
        with lock:
            latencies.append(took) if code == "200" else errors.update({code: errors.get(code, 0) + 1})

    started = time.perf_counter()
    late = 0
    with ThreadPoolExecutor(max_workers=32) as pool:
        for i, offset in enumerate(arrivals):
            due = started + offset
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            else:
                late += 1
            pool.submit(send, i, due)
    out = summarise(latencies, errors, time.perf_counter() - started)
    if SERVER_MS:
        app = [t["app"] for t in SERVER_MS if "app" in t]
        out["server_p50_ms"], out["server_p99_ms"] = (round(float(np.percentile(app, q)), 2) for q in (50, 99))
        # each stage at the requests of the server's own tail (>= its p99) and overall
        tail = [t for t in SERVER_MS if t.get("app", 0) >= out["server_p99_ms"]]
        stages = [k for k in SERVER_MS[0] if k != "app"]
        out["server_stages_ms"] = {k: {"p50": round(float(np.percentile([t.get(k, 0) for t in SERVER_MS], 50)), 2),
                                       "p99": round(float(np.percentile([t.get(k, 0) for t in SERVER_MS], 99)), 2),
                                       "mean_in_tail": round(float(np.mean([t.get(k, 0) for t in tail])), 2)}
                                   for k in stages}
    while not clients.empty():
        clients.get().close()
    return {"mode": "open", "rate": rate, "sent_late": late, **out}
