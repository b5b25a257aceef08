"""The online ranker from the image with the `dev` profile, as manifests/base/ranker.yaml runs it,
then the promotion approval a data expert gives, and the reload that makes the ranker serve it.

Checks, in order: the ranker comes up with no champion in the registry and says why it is not
ready (a fresh cluster); the approval (`rankops promote approve`, in the image) moves the
champion; `/admin/reload` swaps the model; `/readyz` turns ready; real `/rerank` requests are
scored by that version with features read from Redis (a candidate the store does not know is a 404).
"""

from __future__ import annotations

import http.client
import json
import time
from typing import Any

from pipelines.containers.services import DevServices

RANKER_SECRETS = ("rankops-redis", "rankops-postgres")  # what /readyz needs: online store + Feast registry
RANKER_CONFIG_MAPS = ("rankops-runtime", "ranker-model", "rankops-database")


class RankerCheckFailed(RuntimeError):
    """The ranker did not behave as the cluster needs (the message says what it answered)."""


def http_json(ip: str, port: int, method: str, path: str, body: Any = None, host: str | None = None,
              timeout_s: float = 60.0) -> tuple[int, Any]:
    """(status, parsed JSON body) of one request; the Host header is the service's name when given."""
    conn = http.client.HTTPConnection(ip, port, timeout=timeout_s)
    try:
        data = None if body is None else json.dumps(body).encode()
        headers = {"content-type": "application/json", **({"host": host} if host else {})}
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        try:
            return resp.status, json.loads(raw) if raw else None
        except ValueError:
            return resp.status, raw.decode(errors="replace")
    finally:
        conn.close()


def wait_http(ip: str, port: int, path: str, ok: Any, what: str, container: Any, timeout_s: float = 300.0) -> Any:
    """Poll `path` until `ok(status, body)`; fail with the last answer and the container's log tail."""
    deadline, last = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        container.reload()
        if container.status not in ("created", "running"):
            raise RankerCheckFailed(f"{what}: the ranker container exited: {_logs(container)}")
        try:
            status, body = http_json(ip, port, "GET", path, timeout_s=10)
            last = (status, body)
            if ok(status, body):
                return body
        except OSError as exc:
            last = repr(exc)
        time.sleep(1)
    raise RankerCheckFailed(f"{what}: not met within {timeout_s:.0f} s; last answer {last}; log: {_logs(container)}")


def _logs(container: Any, lines: int = 15) -> str:
    try:
        return " | ".join(container.logs(tail=lines).decode(errors="replace").strip().splitlines())
    except Exception as exc:
        return f"(no log: {exc})"


def pod_env(services: DevServices, secrets: tuple[str, ...], config_maps: tuple[str, ...]) -> dict[str, str]:
    """envFrom of a pod: every key of the named ConfigMaps and Secrets."""
    env: dict[str, str] = {"HOME": "/tmp"}
    for name in config_maps:
        env.update(services.config_maps[name])
    for name in secrets:
        env.update(services.secrets[name])
    return env


def sample_request(lakehouse: str, n: int = 20) -> tuple[str, list[str]]:
    """A test-split query and its judged candidates, from the run's published gold labels."""
    from components.common.contract import GOLD_LABELS
    from components.common.snapshots import SnapshotStore

    labels = SnapshotStore.read_pandas(SnapshotStore(lakehouse).latest(GOLD_LABELS))
    test = labels[labels["split"] == "test"]
    counts = test.groupby("query_text")["video_id"].nunique().sort_values(ascending=False, kind="stable")
    query = str(counts.index[0])
    ids = list(dict.fromkeys(test.loc[test["query_text"] == query, "video_id"].astype(str)))[:n]
    return query, ids


def check_ranker(services: DevServices, *, request_id: str, version: str, lakehouse: str,
                 overrides: dict[str, str], echo: Any = print) -> dict[str, Any]:
    """Start the ranker, check not-ready-with-reason, approve `request_id`, reload, rerank; return a record."""
    client, image, ep = services.engine.client, services.image, services.endpoints
    model = services.config_maps["ranker-model"]
    started = time.monotonic()
    ranker = client.containers.run(
        image, entrypoint=["rankops", "serve"], detach=True, labels=services.run_label,
        name=f"rankops-ranker-{services.run_label['rankops.run']}",
        command=["--host", ep.ip, "--port", str(ep.ranker_port), "--model-name", model["MODEL_NAME"],
                 "--model-version", model["MODEL_VERSION"]],
        environment=pod_env(services, RANKER_SECRETS, RANKER_CONFIG_MAPS), **services.container_args())
    services.containers.append(ranker)
    record: dict[str, Any] = {"image_id": client.images.get(image).id}
    try:
        ip, port = ep.ip, ep.ranker_port
        wait_http(ip, port, "/healthz", lambda s, b: s == 200, "liveness (/healthz)", ranker)
        before = wait_http(ip, port, "/readyz", lambda s, b: s == 503 and isinstance(b, dict) and b.get("error")
                           and "loading" not in b["error"], "readiness before approval", ranker)
        echo(f"  ranker up, not ready before the approval: {before['error']}")
        record["before_approval"] = before
        ranker.reload()
        uid = ranker.exec_run(["id", "-u"]).output.decode().strip()
        record.update(uid=int(uid), configured_user=ranker.attrs["Config"].get("User"),
                      read_only_root=bool(ranker.attrs["HostConfig"].get("ReadonlyRootfs")))
        record["approval"] = approve(services, request_id, overrides)
        echo(f"  approved {request_id}: champion = version {version}")
        status, reload = http_json(ip, port, "POST", "/admin/reload")
        record["reload"] = reload
        if status != 200 or reload.get("version") != version:
            raise RankerCheckFailed(f"/admin/reload answered {status} {reload}; expected version {version}")
        ready = wait_http(ip, port, "/readyz", lambda s, b: s == 200, "readiness after approval", ranker)
        record["after_approval"] = ready
        record["rerank"] = rerank_checks(ip, port, lakehouse, version)
        echo(f"  ranker serves version {version}: {record['rerank']['query']!r} over "
             f"{record['rerank']['candidates']} candidates, top {record['rerank']['top'][:3]}")
    finally:
        record["log_tail"] = _logs(ranker, 20).split(" | ")
        record["seconds"] = round(time.monotonic() - started, 2)
        try:
            ranker.remove(force=True)
            services.containers.remove(ranker)
        except Exception:
            pass
    return record


def approve(services: DevServices, request_id: str, overrides: dict[str, str]) -> dict[str, Any]:
    """`rankops promote approve` in the image, as a data expert's session in the namespace would run it."""
    env = {**pod_env(services, ("rankops-git", "rankops-postgres"), ("rankops-runtime", "rankops-database")),
           **overrides}
    container = services.engine.client.containers.run(
        services.image, entrypoint=["rankops"], detach=True, labels=services.run_label, environment=env,
        command=["--env", "dev", "promote", "approve", request_id, "--by", "run-containers",
                 "--note", "approved by make run-containers"], **services.container_args())
    try:
        code = container.wait()["StatusCode"]
        log = container.logs().decode(errors="replace").strip()
    finally:
        container.remove(force=True)
    if code != 0:
        raise RankerCheckFailed(f"`rankops promote approve {request_id}` exited {code}: {log[-2000:]}")
    return {"exit_code": code, "output": log.splitlines()[-3:]}


def rerank_checks(ip: str, port: int, lakehouse: str, version: str) -> dict[str, Any]:
    """Real requests: a judged query's candidates come back as a ranking by `version`; unknown ids are 404."""
    query, ids = sample_request(lakehouse)
    status, body = http_json(ip, port, "POST", "/rerank", {"query": query, "candidates": ids})
    if status != 200:
        raise RankerCheckFailed(f"/rerank answered {status}: {body}")
    results = body["results"]
    scores = [r["score"] for r in results]
    problems = [msg for bad, msg in [
        (body["model_version"] != version, f"model_version {body['model_version']} != {version}"),
        (sorted(r["video_id"] for r in results) != sorted(ids), "results are not the candidates"),
        ([r["rank"] for r in results] != list(range(1, len(ids) + 1)), "ranks are not 1..n"),
        (scores != sorted(scores, reverse=True), "not ordered by score"),
    ] if bad]
    unknown_status, unknown = http_json(ip, port, "POST", "/rerank", {"query": query,
                                                                      "candidates": [ids[0], "ffffffffffffffff"]})
    if unknown_status != 404 or unknown.get("detail") != {"unknown": ["ffffffffffffffff"]}:
        problems.append(f"an unknown candidate got {unknown_status} {unknown}")
    if problems:
        raise RankerCheckFailed("/rerank: " + "; ".join(problems))
    return {"query": query, "candidates": len(ids), "model_version": body["model_version"],
            "top": [r["video_id"] for r in results[:5]], "unknown_candidate_status": unknown_status}
