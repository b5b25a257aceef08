"""The GPU image's dependency set resolves with the CUDA build of torch (dry run against PyPI: metadata
only), and the `+cpu` pin it used to carry is what broke it."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.containers.gpu import GpuResolveError, resolve_gpu_dependencies

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]


def test_the_gpu_dependency_set_resolves_with_cuda_torch():
    result = resolve_gpu_dependencies(REPO)
    assert result["torch"] == "2.13.0"  # PyPI's Linux wheel: the CUDA build, no local label
    names = {lib.split()[0] for lib in result["cuda_libraries"]}
    assert {"nvidia-cuda-runtime", "nvidia-cublas", "nvidia-nccl-cu13"} <= names
    # every binary package has a wheel for the image's Python 3.12; only pure-Python sdists are left
    assert result["python"] == "3.12"
    assert result["wheels_for_python"] + len(result["source_only"]) == result["packages"] - 1  # minus rankops
    assert set(result["source_only"]) <= {"pyspark", "kfp-server-api"}


def test_the_old_cpu_pin_does_not_resolve_with_cuda_torch(tmp_path):
    pins = (REPO / "constraints.txt").read_text().replace("torch==2.13.0\n", "torch==2.13.0+cpu\n")
    assert "torch==2.13.0+cpu" in pins
    (tmp_path / "constraints.txt").write_text(pins)
    with pytest.raises(GpuResolveError, match="pip could not resolve the GPU image's dependencies: .*torch"):
        resolve_gpu_dependencies(REPO, constraints=tmp_path / "constraints.txt")
