"""The datagen KFP component runs under kfp.local's SubprocessRunner and fills its artifact."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from kfp import local

from components.datagen.component import generate_data_op


def test_generate_data_op_writes_the_contract_into_its_artifact(tmp_path: Path, rankops_home: Path) -> None:
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"),
               raise_on_error=True, enable_caching=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*non-Python base image.*", category=RuntimeWarning)
        task = generate_data_op(impressions=800, days=2, seed=4, dirty_share=0.05)
    raw = task.outputs["raw"]
    folder = Path(raw.path)
    ledger = json.loads((folder / "_generator.json").read_text())
    assert raw.metadata["batches"] == ["2026-10-01", "2026-10-02"] == ledger["batches"]
    data_files = sorted({p.relative_to(folder).as_posix() for p in folder.glob("*/*/*")} - set(ledger["ignored_files"]))
    on_disk = sum((folder / f).read_bytes().count(b"\n") - f.endswith(".csv") for f in data_files)  # no headers
    assert raw.metadata["lines"] == on_disk
    assert raw.metadata["params"]["impressions"] == 800 and raw.metadata["uri"] == str(folder)
    assert data_files == [
        f"{d}/{k}" for d in ("2026-10-01", "2026-10-02")
        for k in ("judgements/part-00000.csv", "search_log/part-00000.jsonl", "videos/part-00000.jsonl")
    ]
    assert raw.metadata["ignored_files"] == ledger["ignored_files"] and len(ledger["ignored_files"]) == 6
    assert raw.metadata["defects"] == {k: float(n) for k, n in ledger["defects"].items()}
    assert task.outputs["metrics"].metadata["valid_rows"] == float(ledger["valid_rows"])
