"""Compiler plumbing on a toy pipeline: deterministic bytes, staleness verdict, retagging, summary."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pipelines import compile as kcompile  # noqa: E402
from pipelines import catalogue as registry  # noqa: E402
from pipelines.placement import on_cluster  # noqa: E402
from pipelines.spec_summary import summarize_spec  # noqa: E402


@pytest.fixture
def toy_registered(monkeypatch, tmp_path):
    monkeypatch.setitem(registry.PIPELINES, "toy", "kfp_toy_pipeline:toy")
    monkeypatch.setattr(registry, "COMPILED_DIR", tmp_path / "compiled")
    monkeypatch.delenv("RANKOPS_IMAGE", raising=False)
    monkeypatch.delenv("RANKOPS_GPU_IMAGE", raising=False)
    return tmp_path / "compiled"


def test_compiling_twice_gives_identical_bytes(toy_registered, tmp_path):
    first = kcompile.compile_pipeline("toy", tmp_path / "a").read_bytes()
    second = kcompile.compile_pipeline("toy", tmp_path / "b").read_bytes()
    assert first == second
    assert b"image: ghcr.io/rankops/rankops:0.1.0\n" in first


def test_stale_spec_is_reported_with_diff_and_fix(toy_registered, capsys):
    kcompile.compile_pipeline("toy", toy_registered)
    assert kcompile.stale_specs(["toy"], toy_registered) == {}
    spec = toy_registered / "toy.yaml"
    # a different kfp patch version alone is not staleness
    spec.write_text(spec.read_text().replace("sdkVersion: kfp-2.17.0", "sdkVersion: kfp-2.17.9"))
    assert kcompile.stale_specs(["toy"], toy_registered) == {}
    spec.write_text(spec.read_text().replace("maxRetryCount: 2", "maxRetryCount: 5"))
    stale = kcompile.stale_specs(["toy"], toy_registered)
    assert list(stale) == ["toy"]
    assert "-          maxRetryCount: 5" in stale["toy"] and "+          maxRetryCount: 2" in stale["toy"]
    assert kcompile.main(["--check", "toy"]) == 1
    err = capsys.readouterr().err
    assert "toy: stale" in err and "regenerate with: rankops pipeline compile" in err


def test_missing_spec_is_stale(toy_registered):
    assert list(kcompile.stale_specs(["toy"], toy_registered)) == ["toy"]


def test_image_override_is_refused_at_compile(toy_registered, monkeypatch):
    monkeypatch.setenv("RANKOPS_IMAGE", "example.org/other:1")
    with pytest.raises(RuntimeError, match="RANKOPS_IMAGE is set"):
        kcompile.compile_pipeline("toy", toy_registered)


def test_retag_points_cpu_and_gpu_images_at_one_build():
    text = "image: ghcr.io/rankops/rankops:0.1.0\nimage: ghcr.io/rankops/rankops-gpu:0.1.0\nimage: redis:7\n"
    assert kcompile.retag_spec(text, "3f2a") == (
        "image: ghcr.io/rankops/rankops:3f2a\nimage: ghcr.io/rankops/rankops-gpu:3f2a\nimage: redis:7\n")
    with pytest.raises(ValueError, match="invalid image tag"):
        kcompile.retag_spec(text, "bad tag;rm")


def test_repoint_sets_digests_and_can_repoint_again():
    cpu, gpu = "ghcr.io/rankops/rankops@sha256:" + "1" * 64, "ghcr.io/rankops/rankops-gpu:ab@sha256:" + "2" * 64
    text = ("image: ghcr.io/rankops/rankops:0.1.0\nvalue: ghcr.io/rankops/rankops-gpu:0.1.0\n"
            "image: ghcr.io/rankops/rankops-other:1\n")
    once = kcompile.repoint_spec(text, cpu, gpu)
    assert once == f"image: {cpu}\nvalue: {gpu}\nimage: ghcr.io/rankops/rankops-other:1\n"
    assert kcompile.repoint_spec(once, "ghcr.io/rankops/rankops:9", "ghcr.io/rankops/rankops-gpu:9") == (
        "image: ghcr.io/rankops/rankops:9\nvalue: ghcr.io/rankops/rankops-gpu:9\nimage: ghcr.io/rankops/rankops-other:1\n")
    assert kcompile.is_digest_ref(cpu) and kcompile.is_digest_ref(gpu)
    assert not kcompile.is_digest_ref("ghcr.io/rankops/rankops:0.1.0")
    with pytest.raises(ValueError, match="invalid image reference 'no spaces allowed'"):
        kcompile.repoint_spec(text, "no spaces allowed", gpu)


def test_summary_pins_placement_retries_and_caching(toy_registered):
    spec = kcompile.compile_pipeline("toy", toy_registered).read_text()
    summary = summarize_spec(spec)
    assert summary["pipeline"] == "toy" and summary["parameters"] == {"env": "dev"}
    tasks = summary["tasks"]
    assert sorted(tasks) == ["fit-op", "prepare-op", "prepare-op-2"]
    assert tasks["prepare-op"] == {
        "image": "ghcr.io/rankops/rankops:0.1.0", "cache": False, "retries": 2, "retry_backoff": "30s",
        "cpu": "1", "memory": "4Gi", "secrets": ["rankops-mlflow-client", "rankops-postgres"],
        "volumes": ["rankops-lakehouse:/mnt/lakehouse"],
        "labels": {"rankops.io/role": "pipeline", "rankops.io/postgres-client": "true"},
    }
    fit = tasks["fit-op"]
    assert fit["image"] == "ghcr.io/rankops/rankops-gpu:0.1.0"
    assert fit["gpu"] == {"type": "nvidia.com/gpu", "count": 1}
    assert fit["node_selector"] == {"nvidia.com/gpu.present": "true"}
    assert fit["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]
    assert (fit["cpu"], fit["memory"], fit["cache"], fit["retries"]) == ("4", "16Gi", True, 0)
    gated = tasks["prepare-op-2"]
    assert gated["runs_if"] == "inputs.parameter_values['pipelinechannel--fit-op-Output'] == 'promote'"
    assert gated["secrets"] == ["rankops-git"]


def test_unknown_secret_is_refused():
    from kfp import dsl
    from kfp_toy_pipeline import prepare_op

    with pytest.raises(ValueError, match=r"unknown secrets \['vault'\]"):
        @dsl.pipeline(name="bad")
        def bad(env: str = "dev"):
            on_cluster(prepare_op(env=env), needs=["vault"])


def test_unknown_pipeline_names_the_choices():
    with pytest.raises(registry.UnknownPipeline, match="unknown pipeline 'nope'; choose one of etl, training"):
        registry.load_pipeline("nope")
