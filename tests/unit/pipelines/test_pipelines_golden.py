"""The committed specs: fresh (recompile == committed), and the fields that matter pinned in goldens.

Regenerate after an intended change:
    rankops pipeline compile
    rankops pipeline describe NAME > tests/unit/pipelines/golden/NAME.json
"""

import json
import re
from pathlib import Path

import pytest

from components.common import image
from pipelines.catalogue import COMPILED_DIR, PIPELINES, compiled_path, pipeline_names
from pipelines.compile import REGENERATE, stale_specs
from pipelines.spec_summary import summarize_spec

GOLDEN = Path(__file__).parent / "golden"
AVAILABLE = pipeline_names()
OUR_IMAGES = {image.IMAGE, image.GPU_IMAGE}
# the steps that run the trainer: GPU node, CUDA image and the checkpoint volume
TRAINER_TASKS = {"train-op", "backtest-origin-op", "backtest-window-op"}


def summary_of(name: str) -> dict:
    return summarize_spec(compiled_path(name).read_text())


def test_every_available_pipeline_is_compiled_and_nothing_else():
    committed = sorted(p.stem for p in COMPILED_DIR.glob("*.yaml"))
    assert committed == sorted(AVAILABLE)
    assert set(committed) <= set(PIPELINES)


def test_committed_specs_are_fresh():
    stale = stale_specs(AVAILABLE)
    assert not stale, f"stale compiled specs {sorted(stale)}; regenerate with: {REGENERATE}\n" + "\n".join(stale.values())


@pytest.mark.parametrize("name", AVAILABLE)
def test_fields_that_matter_match_the_golden(name):
    golden = GOLDEN / f"{name}.json"
    assert golden.exists(), f"no golden for {name}: rankops pipeline describe {name} > {golden}"
    actual = summary_of(name)
    expected = json.loads(golden.read_text())
    assert actual == expected, (f"{name}: placement/retries/caching changed; if intended: "
                                f"rankops pipeline describe {name} > {golden}")


@pytest.mark.parametrize("name", AVAILABLE)
def test_images_follow_the_build_tag_scheme(name):
    """Specs reference ghcr.io/rankops/rankops[-gpu]:<package version>, the tag CI pushes with the sha."""
    images = {t["image"] for t in summary_of(name)["tasks"].values()}
    assert images <= OUR_IMAGES
    for img in images:
        assert re.fullmatch(r"ghcr\.io/rankops/rankops(-gpu)?:" + re.escape(image.VERSION), img)


@pytest.mark.parametrize("name", AVAILABLE)
def test_every_step_gets_lakehouse_label_resources_and_env(name):
    summary = summary_of(name)
    assert summary["parameters"]["env"] == "dev"  # dashboard runs default to dev; local runs pass env=local
    for task, t in summary["tasks"].items():
        expected_volumes = ["rankops-lakehouse:/mnt/lakehouse"]
        if task in TRAINER_TASKS:
            expected_volumes.append("rankops-models:/mnt/models")  # the pretrained checkpoint
        assert t["volumes"] == expected_volumes, task
        labels = {"rankops.io/role": "pipeline"}
        if "rankops-postgres" in t["secrets"]:  # database clients get the egress label
            labels["rankops.io/postgres-client"] = "true"
        if "rankops-prod-mlflow-client" in t["secrets"]:  # prod's tracking server: the copy, prod's champion
            labels["rankops.io/prod-mlflow-client"] = "true"
        if task == "monitor-op":  # the retrain trigger calls the KFP API
            labels["rankops.io/kfp-api"] = "true"
        if task.startswith(("etl-op", "batch-score-op")):  # Spark drivers that start executor pods
            labels["rankops.io/spark-driver"] = "true"
        assert t["labels"] == labels, task
        assert t["cpu"] and t["memory"], task


@pytest.mark.parametrize("name", [n for n in ("training", "end_to_end") if n in AVAILABLE])
def test_training_runs_on_a_gpu_node_and_promotion_is_gated(name):
    tasks = summary_of(name)["tasks"]
    train = tasks["train-op"]
    assert train["image"] == image.GPU_IMAGE
    assert train["gpu"] == {"type": "nvidia.com/gpu", "count": 1}
    assert train["node_selector"] == {"nvidia.com/gpu.present": "true"}
    assert train["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]
    assert (train["cpu"], train["memory"], train["retries"]) == ("8", "32Gi", 1)
    assert "gpu" not in tasks["evaluate-op"] and "node_selector" not in tasks["register-op"]
    promo = tasks["promotion-request-op"]
    assert promo["runs_if"] == "inputs.parameter_values['pipelinechannel--compare-op-Output'] == true"
    assert promo["secrets"] == ["rankops-git", "rankops-mlflow-client", "rankops-prod-mlflow-client"]
    # only the steps that write to / read prod's registry get its credentials and the egress to it
    assert sorted(t for t, v in tasks.items() if "rankops-prod-mlflow-client" in v["secrets"]) == [
        "compare-op", "promotion-request-op"]
    # side-effecting steps never come from cache
    assert [t for t in ("register-op", "compare-op", "promotion-request-op") if tasks[t]["cache"]] == []
    assert tasks["features-apply-op"]["secrets"] == ["rankops-postgres", "rankops-redis"]


@pytest.mark.parametrize("name", sorted({"training", "end_to_end"} & set(AVAILABLE)))
def test_nothing_reaches_the_registry_or_a_promotion_request_unchecked(name):
    """An invalid or unevaluated model is never registered; a promotion request waits for the
    comparison and for the online store to hold the features the promoted model will be served with."""
    tasks = summary_of(name)["tasks"]
    assert {"validate-model-op", "evaluate-op"} <= set(tasks["register-op"]["after"])
    assert {"compare-op", "materialize-op"} <= set(tasks["promotion-request-op"]["after"])


@pytest.mark.skipif("backtest" not in AVAILABLE, reason="backtest pipeline not available")
@pytest.mark.parametrize("task", ["backtest-origin-op", "backtest-window-op"])
def test_backtest_trainer_steps_are_placed_like_the_train_step(task):
    """The first-cutoff model and every window run the real trainer: same GPU image, GPU node and
    checkpoint volume as the `train` step, or staging/prod cannot read training.checkpoint."""
    tasks = summary_of("backtest")["tasks"]
    step = tasks[task]
    assert step["image"] == image.GPU_IMAGE
    assert step["gpu"] == {"type": "nvidia.com/gpu", "count": 1}
    assert step["node_selector"] == {"nvidia.com/gpu.present": "true"}
    assert step["tolerations"] == [{"effect": "NoSchedule", "key": "nvidia.com/gpu", "operator": "Exists"}]
    assert "rankops-models:/mnt/models" in step["volumes"]
    # planning and the summary train nothing: they stay on CPU nodes without the checkpoint
    for other in ("backtest-plan-op", "backtest-summary-op"):
        assert "gpu" not in tasks[other] and "node_selector" not in tasks[other], other
        assert tasks[other]["volumes"] == ["rankops-lakehouse:/mnt/lakehouse"], other
