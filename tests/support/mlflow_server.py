"""A real `mlflow server` (SQLite backend, artifact proxy) on 127.0.0.1, and a basic-auth gate in front of one.

The gate stands for what docs/deployment.md asks of a tracking server with credentials (an
authenticating proxy or MLflow's basic-auth app, which needs the Flask-WTF extra this image
lacks): every request without the configured `Authorization: Basic` answer gets 401, like
MLflow's auth app; the others are forwarded unchanged. It records the user names it was sent.
"""

from __future__ import annotations

import base64
import http.client
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from components.common.net import free_port

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization",
              "proxy-authenticate", "host", "content-length"}


@contextmanager
def mlflow_server(root: Path) -> Iterator[tuple[str, Path]]:
    """(url, artifacts root) of `mlflow server --serve-artifacts` under `root`, stopped on exit."""
    artifacts = root / "artifacts"
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("mlflow")), "server", "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1", "--backend-store-uri", f"sqlite:///{root}/mlflow.db",
         "--artifacts-destination", str(artifacts), "--serve-artifacts"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("mlflow server did not start in 60 s")
        yield url, artifacts
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class BasicAuthGate:
    """127.0.0.1 reverse proxy to `upstream` admitting only `username`:`password` (HTTP basic auth)."""

    def __init__(self, upstream: str, username: str, password: str):
        self.upstream = urlsplit(upstream)
        self.expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.users: list[str | None] = []  # the user name of every request, as sent
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> BasicAuthGate:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def user_of(self, header: str | None) -> str | None:
        if not header or not header.startswith("Basic "):
            return None
        return base64.b64decode(header[6:]).decode(errors="replace").partition(":")[0]

    def handler(self) -> type[BaseHTTPRequestHandler]:
        gate = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while (size := int(self.rfile.readline().strip().split(b";")[0], 16)) > 0:
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def answer(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _serve(self) -> None:
                payload = self.body()
                auth = self.headers.get("Authorization")
                gate.users.append(gate.user_of(auth))
                if auth != gate.expected:
                    self.answer(401, [("WWW-Authenticate", 'Basic realm="mlflow"'), ("Content-Type", "text/plain")],
                                b"You are not authenticated. Please see the documentation for details.")
                    return
                conn = http.client.HTTPConnection(gate.upstream.hostname, gate.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                conn.request(self.command, self.path, body=payload, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.answer(resp.status, resp.getheaders(), data)
                conn.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, *args) -> None:
                pass

        return Handler
