"""Proof that the GPU image's dependency set resolves with the CUDA build of torch, without its base
image (which cannot be pulled everywhere): two dry-run `pip install`s, metadata only, no download
of the multi-GB wheels.

1. The image's own pip steps as one resolution: `torch==2.13.0` from a CUDA index plus the project
   under constraints.txt, in isolated mode (no local wheel directory, no machine-wide constraints).
   It must pick a CUDA torch (its nvidia-* CUDA libraries in the set) and nothing with a `+cpu` label.
2. Every binary package of that set must have a wheel for the image's Python (Ubuntu 24.04: 3.12)
   on manylinux x86_64; pure-Python source distributions install on any Python.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PYPI = "https://pypi.org/simple"
GPU_PYTHON = "3.12"  # python3 of docker/Dockerfile.gpu's base (nvidia/cuda:*-ubuntu24.04)
GPU_GLIBC = 39  # Ubuntu 24.04: a wheel for any manylinux up to glibc 2.39 installs there
PLATFORMS = (*(f"manylinux_2_{n}_x86_64" for n in range(GPU_GLIBC, 4, -1)), "manylinux2014_x86_64",
             "manylinux2010_x86_64", "manylinux1_x86_64", "linux_x86_64")


class GpuResolveError(RuntimeError):
    """The GPU dependency set does not resolve (pip's words, or what is wrong with the set)."""


def _pip(args: list[str], report: Path) -> dict[str, Any]:
    cert = os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt"
    cmd = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--isolated", "--quiet",
           "--disable-pip-version-check", "--report", str(report), *(["--cert", cert] if os.path.exists(cert) else []),
           *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.strip() and "is ignored" not in line]
        raise GpuResolveError("pip could not resolve the GPU image's dependencies: " + " | ".join(lines[-6:]))
    return json.loads(report.read_text())


def resolve_gpu_dependencies(repo: Path, torch_index: str = PYPI, constraints: Path | None = None) -> dict[str, Any]:
    """Resolve as the GPU image installs; raise GpuResolveError, else return what was proven."""
    extra = [] if torch_index == PYPI else ["--extra-index-url", torch_index]
    constraints = constraints or repo / "constraints.txt"
    with tempfile.TemporaryDirectory() as tmp:
        full = _pip(["--index-url", PYPI, *extra, "-c", str(constraints), "torch==2.13.0", str(repo)],
                    Path(tmp) / "full.json")
        installs = {i["metadata"]["name"].lower(): i for i in full["install"]}
        torch = installs["torch"]["metadata"]["version"]
        cuda = sorted(f"{n} {i['metadata']['version']}" for n, i in installs.items() if n.startswith("nvidia-"))
        if "+cpu" in torch or not cuda:
            raise GpuResolveError(f"resolved torch {torch} with CUDA libraries {cuda or 'none'}: not a CUDA build")
        local_labels = sorted(f"{n}=={i['metadata']['version']}" for n, i in installs.items()
                              if "+cpu" in i["metadata"]["version"])
        if local_labels:
            raise GpuResolveError(f"CPU-only builds in the GPU set: {', '.join(local_labels)}")
        wheels = sorted(f"{n}=={i['metadata']['version']}" for n, i in installs.items()
                        if i["download_info"]["url"].endswith(".whl") and n != "rankops")
        sdists = sorted(n for n, i in installs.items()
                        if not i["download_info"]["url"].endswith(".whl") and n != "rankops")
        pinned = Path(tmp) / "pinned.txt"
        pinned.write_text("\n".join(wheels) + "\n")
        platforms = [arg for p in PLATFORMS for arg in ("--platform", p)]
        binary = _pip(["--index-url", PYPI, *extra, "--no-deps", "--only-binary=:all:", "--python-version",
                       GPU_PYTHON, "--implementation", "cp", *platforms, "-r", str(pinned)], Path(tmp) / "py.json")
    return {"torch": torch, "torch_index": torch_index, "cuda_libraries": cuda, "packages": len(installs),
            "python": GPU_PYTHON, "wheels_for_python": len(binary["install"]), "source_only": sdists}
