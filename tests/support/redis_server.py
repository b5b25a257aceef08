"""A throw-away redis-server on a free loopback port (tests and benchmarks; `make services` installs it)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from components.common.net import free_port

BINARY = "/usr/bin/redis-server"


def redis_binary() -> str | None:
    found = shutil.which("redis-server") or BINARY
    return found if Path(found).exists() else None


@contextmanager
def redis_server(password: str | None = None, workdir: Path | None = None) -> Iterator[str]:
    """Yields host:port of a redis-server without persistence (requiring `password` if given); stops it after."""
    binary = redis_binary()
    if binary is None:
        raise FileNotFoundError("redis-server is not installed: run `make services`")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="redis-") as scratch:
        cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", str(workdir or scratch), *(["--requirepass", password] if password else [])]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                raise RuntimeError(f"redis-server did not start on port {port}")
            yield f"127.0.0.1:{port}"
        finally:
            proc.terminate()
            proc.wait(timeout=10)
