"""docs/composing.md is executable: its pipelines compile, and example 1 runs on the KFP local runner."""

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "composing.md"


def doc_namespace(tmp_path: Path) -> dict:
    """The doc's Python blocks that define pipelines, written to a module and imported (KFP reads the
    component source with inspect, so it must come from a file)."""
    import importlib.util

    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    defining = [b for b in blocks if "@dsl.pipeline" in b]
    assert len(defining) == 2
    module_file = tmp_path / "composed_from_doc.py"
    module_file.write_text("\n\n".join(defining))
    spec = importlib.util.spec_from_file_location("composed_from_doc", module_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return vars(module)


def test_doc_pipelines_compile(tmp_path):
    from kfp import compiler

    from pipelines.spec_summary import summarize_spec

    ns = doc_namespace(tmp_path)
    for name in ("raw_drop_check", "lr_experiment"):
        compiler.Compiler().compile(ns[name], str(tmp_path / f"{name}.yaml"))
    drop = summarize_spec((tmp_path / "raw_drop_check.yaml").read_text())
    assert (drop["pipeline"], sorted(drop["tasks"])) == ("raw-drop-check", ["etl-op", "generate-data-op",
                                                                             "quarantine-share-op"])
    tasks = summarize_spec((tmp_path / "lr_experiment.yaml").read_text())["tasks"]
    assert sorted(tasks) == ["evaluate-op", "features-apply-op", "latest-gold-op", "train-op", "training-set-op"]
    assert tasks["train-op"]["gpu"] == {"type": "nvidia.com/gpu", "count": 1}


@pytest.mark.slow
def test_doc_example_runs_locally(rankops_home, settings, tmp_path):
    from pipelines.local import run_local

    ns = doc_namespace(tmp_path)
    result = run_local("raw-drop-check", settings, {"impressions": 400}, pipeline_func=ns["raw_drop_check"])
    share = result["outputs"]["Output"]
    # recompute from what the steps wrote: the generator's ledger and the ETL's quarantine accounting
    root = Path(result["pipeline_root"])
    runs = sorted(root.glob("raw-drop-check-*"))
    assert len(runs) == 1
    raw_out = json.loads((runs[0] / "generate-data-op" / "executor_output.json").read_text())
    etl_out = json.loads((runs[0] / "etl-op" / "executor_output.json").read_text())
    lines = raw_out["artifacts"]["raw"]["artifacts"][0]["metadata"]["lines"]
    reasons = etl_out["artifacts"]["gold"]["artifacts"][0]["metadata"]["quarantine_reasons"]
    assert share == round(sum(reasons.values()) / lines, 4)
    ledger = json.loads((Path(raw_out["artifacts"]["raw"]["artifacts"][0]["uri"]) / "_generator.json").read_text())
    # the ETL quarantined exactly the defects the generator injected, reason by reason
    assert {k: int(v) for k, v in reasons.items() if v} == {k: v for k, v in ledger["quarantine_reasons"].items() if v}
    assert share == round(ledger["quarantined_rows"] / ledger["lines"], 4) > 0
    # the ETL published gold snapshots into the test's lakehouse
    from components.common.contract import GOLD_TABLES
    from components.common.snapshots import SnapshotStore

    store = SnapshotStore(settings.lakehouse)  # latest() raises for a table that was never published
    published = etl_out["artifacts"]["gold"]["artifacts"][0]["metadata"]
    assert published["published"] is True
    assert {t: store.latest(t).ref for t in GOLD_TABLES} == published["gold_refs"]
