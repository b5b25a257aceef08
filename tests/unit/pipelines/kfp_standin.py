"""A stand-in for the KFP v2beta1 REST API on 127.0.0.1 that records every request.

Only what `rankops pipeline submit/upload` and the retrain trigger call is implemented; answers
are shaped like KFP's. Like a multi-user KFP it keeps pipelines per namespace (an upload or list
without `namespace` means the shared ones) and refuses experiments without a namespace; with
`multi_user=False` its healthz says single-user, as such a deployment's does.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]

    def json(self):
        return json.loads(self.body or b"{}")


@dataclass
class KfpStandIn:
    requests: list[Recorded] = field(default_factory=list)
    pipelines: dict[str, dict] = field(default_factory=dict)  # id -> pipeline
    versions: dict[str, list[dict]] = field(default_factory=dict)  # pipeline id -> versions
    experiments: dict[str, dict] = field(default_factory=dict)
    counter: int = 0
    multi_user: bool = True

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"

    def calls(self, method: str | None = None, path_prefix: str = "") -> list[Recorded]:
        return [r for r in self.requests if (method is None or r.method == method) and r.path.startswith(path_prefix)]


def _name_filter(query: dict[str, list[str]]) -> str | None:
    raw = query.get("filter", [None])[0]
    if not raw:
        return None
    preds = json.loads(raw).get("predicates", [])
    return preds[0].get("string_value", preds[0].get("stringValue")) if preds else None


def make_handler(state: KfpStandIn):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _reply(self, payload: dict, status: int = 200) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> Recorded:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlparse(self.path)
            rec = Recorded(self.command, url.path, parse_qs(url.query), body,
                           {k.lower(): v for k, v in self.headers.items()})
            state.requests.append(rec)
            return rec

        def do_GET(self):  # noqa: N802
            rec = self._record()
            if rec.path == "/apis/v2beta1/healthz":
                return self._reply({"multi_user": state.multi_user, "pipeline_store": "database"})
            if rec.path == "/apis/v2beta1/pipelines":
                name = _name_filter(rec.query)
                namespace = rec.query.get("namespace", [""])[0]
                found = [p for p in state.pipelines.values()
                         if (name is None or p["display_name"] == name) and p.get("namespace", "") == namespace]
                return self._reply({"pipelines": found, "total_size": len(found)} if found else {})
            if rec.path.startswith("/apis/v2beta1/pipelines/") and rec.path.endswith("/versions"):
                pid = rec.path.split("/")[4]
                name = _name_filter(rec.query)
                found = [v for v in state.versions.get(pid, []) if name is None or v["display_name"] == name]
                return self._reply({"pipeline_versions": found, "total_size": len(found)} if found else {})
            if rec.path == "/apis/v2beta1/experiments":
                name = _name_filter(rec.query)
                found = [e for e in state.experiments.values() if name is None or e["display_name"] == name]
                return self._reply({"experiments": found, "total_size": len(found)} if found else {})
            return self._reply({"error": f"not implemented: GET {rec.path}"}, 404)

        def do_POST(self):  # noqa: N802
            rec = self._record()
            if rec.path == "/apis/v2beta1/pipelines/upload":
                pid = state.next_id("pipeline")
                name = rec.query["name"][0]
                namespace = rec.query.get("namespace", [""])[0]
                state.pipelines[pid] = {"pipeline_id": pid, "display_name": name,
                                        **({"namespace": namespace} if namespace else {})}
                state.versions[pid] = [{"pipeline_id": pid, "pipeline_version_id": state.next_id("version"),
                                        "display_name": name}]
                return self._reply(state.pipelines[pid])
            if rec.path == "/apis/v2beta1/pipelines/upload_version":
                pid = rec.query["pipelineid"][0]
                version = {"pipeline_id": pid, "pipeline_version_id": state.next_id("version"),
                           "display_name": rec.query["name"][0]}
                state.versions.setdefault(pid, []).append(version)
                return self._reply(version)
            if rec.path == "/apis/v2beta1/experiments":
                body = rec.json()
                if state.multi_user and not body.get("namespace"):
                    return self._reply({"error": "Invalid input error: namespace is empty in multi-user mode",
                                        "code": 3}, 400)
                eid = state.next_id("experiment")
                state.experiments[eid] = {"experiment_id": eid, **body}
                return self._reply(state.experiments[eid])
            if rec.path == "/apis/v2beta1/runs":
                return self._reply({"run_id": state.next_id("run"), **rec.json()})
            if rec.path == "/apis/v2beta1/recurringruns":
                return self._reply({"recurring_run_id": state.next_id("recurring"), **rec.json()})
            return self._reply({"error": f"not implemented: POST {rec.path}"}, 404)

    return Handler


class running_standin:
    """Context manager: (url, state) of a stand-in served from a daemon thread on 127.0.0.1."""

    def __enter__(self):
        self.state = KfpStandIn()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self.state))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.server.server_address[1]}", self.state

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def uploaded_file(rec: Recorded) -> str:
    """The spec inside the multipart body KFP's upload endpoints take (field `uploadfile`)."""
    body = rec.body.decode()
    assert 'name="uploadfile"' in body
    return body.split("\r\n\r\n", 1)[1].rsplit("\r\n--", 1)[0]
