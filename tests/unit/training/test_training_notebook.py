"""What the notebook adds to training: the live plot callback, BM25's validation line, and the
notebook logged on its MLflow run with its git commit (and the training set as the run's dataset)."""

from __future__ import annotations

import io
import math
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from components.common.snapshots import SnapshotStore
from components.training.live_plot import LivePlot, bm25_reference
from components.training.tracking import ensure_experiment, log_dataset, log_notebook


class Recorder:
    """IPython's display(obj, display_id=True) and the handle it returns, as seen by the callback."""

    def __init__(self):
        self.shown, self.updates = [], []

    def __call__(self, obj, display_id=None):
        self.shown.append((obj, display_id))
        return self

    def update(self, obj):
        self.updates.append(obj)


def test_live_plot_redraws_one_output_with_loss_metrics_and_the_bm25_lines():
    shown = Recorder()
    plot = LivePlot({"ndcg_at_10": 0.6, "mrr_at_10": 0.7}, redraw_every_s=3600, display=shown)
    plot.on_step(1, 4, {"train_loss": 0.9})  # first step: the output is created
    plot.on_step(2, 4, {"train_loss": 0.8})  # within redraw_every_s: no redraw
    plot.on_evaluate(2, {"val_ndcg_at_10": 0.5, "val_mrr_at_10": 0.55, "val_loss": 0.7})
    plot.on_step(3, 4, {"train_loss": 0.7})
    plot.on_step(4, 4, {"train_loss": 0.6})
    plot.on_evaluate(4, {"val_ndcg_at_10": 0.62, "val_mrr_at_10": 0.75, "val_loss": 0.65})
    plot.on_train_end(None)
    assert [d for _, d in shown.shown] == [True] and len(shown.updates) == 3 and plot.draws == 4

    loss_ax, metric_ax = plot.figure().axes
    assert [list(line.get_ydata()) for line in loss_ax.lines] == [[0.9, 0.8, 0.7, 0.6], [0.7, 0.65]]
    assert [list(line.get_ydata()) for line in metric_ax.lines] == [[0.5, 0.62], [0.6, 0.6], [0.55, 0.75], [0.7, 0.7]]
    assert [t.get_text() for t in metric_ax.get_legend().get_texts()] == [
        "validation ndcg@10", "BM25 ndcg@10 0.600", "validation mrr@10", "BM25 mrr@10 0.700"]
    assert metric_ax.get_xlim() == (0, 4)

    image = Image.open(io.BytesIO(shown.updates[-1].data))
    pixels = np.asarray(image.convert("L"))
    assert image.format == "PNG" and image.size == (1000, 360) and pixels.std() > 20


def test_bm25_reference_scores_the_validation_rows_only(settings):
    rows = [  # query, video, title, description, label, split
        ("cats", "v1", "cats", "cats", 0, "validation"),
        ("cats", "v2", "cats", "dogs", 2, "validation"),
        ("cats", "v3", "birds", "dogs", 1, "validation"),
        ("fish", "v4", "fish", "tank", 0, "validation"),  # no relevant video: skipped by the metrics
        ("fish", "v5", "fish", "food", 0, "validation"),
        ("fish", "v6", "sea", "shore", 0, "validation"),
        ("cats", "v7", "cats cats cats", "cats", 3, "train"),  # would rank first if train rows counted
    ]
    frame = pd.DataFrame(rows, columns=["query_text", "video_id", "title", "description", "label", "split"])
    frame["query_id"] = frame["query_text"]
    SnapshotStore(settings.lakehouse).write("features/training_set_ranker_v1", frame, publish=True)
    # BM25 on "cats" (in 2 of the 6 validation videos): v1 (twice) > v2 (once) > v3; labels 0, 2, 1 in that order
    ideal = 2 + 1 / math.log2(3)
    assert bm25_reference(settings) == pytest.approx({"ndcg_at_10": (2 / math.log2(3) + 1 / math.log2(4)) / ideal,
                                                      "mrr_at_10": 0.5})


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def test_log_notebook_attaches_the_file_with_its_commit(settings, tmp_path):
    repo = tmp_path / "repo"
    (repo / "notebooks").mkdir(parents=True)
    notebook = repo / "notebooks" / "explore.ipynb"
    notebook.write_text('{"cells": []}\n')
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "notebook")
    client = MlflowClient(settings.tracking_uri)
    run_id = client.create_run(ensure_experiment(settings)).info.run_id

    tags = log_notebook(settings, run_id, str(notebook))
    assert tags == {"rankops.notebook": "notebooks/explore.ipynb", "rankops.notebook_git_commit": git(repo, "rev-parse", "HEAD"),
                    "rankops.notebook_state": "committed"}
    assert {k: v for k, v in client.get_run(run_id).data.tags.items() if k.startswith("rankops.")} == tags
    copy = client.download_artifacts(run_id, "notebook/explore.ipynb", str(tmp_path / "dl"))
    assert Path(copy).read_bytes() == notebook.read_bytes()

    notebook.write_text('{"cells": [1]}\n')
    assert log_notebook(settings, run_id, str(notebook))["rankops.notebook_state"] == "modified"
    scratch = repo / "notebooks" / "scratch.ipynb"
    scratch.write_text("{}\n")
    assert log_notebook(settings, run_id, str(scratch))["rankops.notebook_state"] == "untracked"
    outside = tmp_path / "loose.ipynb"
    outside.write_text("{}\n")
    assert log_notebook(settings, run_id, str(outside)) == {
        "rankops.notebook": "loose.ipynb", "rankops.notebook_git_commit": "unknown", "rankops.notebook_state": "no git"}
    with pytest.raises(FileNotFoundError, match="missing.ipynb does not exist"):
        log_notebook(settings, run_id, str(tmp_path / "missing.ipynb"))


def test_log_dataset_names_the_snapshot_folder_as_a_local_source_without_mlflows_noise(settings, tmp_path):
    import json
    import warnings
    from types import SimpleNamespace

    import mlflow

    folder = tmp_path / "features" / "training_set_ranker_v1" / "v-1"
    snap = SimpleNamespace(path=str(folder), ref="features/training_set_ranker_v1@v-1", snapshot_id="abc123")
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_experiment(experiment_id=ensure_experiment(settings))
    with warnings.catch_warnings(record=True) as caught, mlflow.start_run() as run:
        warnings.simplefilter("always")
        log_dataset(snap, pd.DataFrame({"query_text": ["cats"], "label": [2]}))
    noise = ("interpreted in multiple ways", "Inferred schema contains integer column")
    assert not [str(w.message) for w in caught if any(n in str(w.message) for n in noise)]
    (logged,) = MlflowClient(settings.tracking_uri).get_run(run.info.run_id).inputs.dataset_inputs
    assert (logged.dataset.name, logged.dataset.digest, logged.dataset.source_type) == (snap.ref, "abc123", "local")
    assert json.loads(logged.dataset.source) == {"uri": str(folder)}
    assert [(t.key, t.value) for t in logged.tags] == [("mlflow.data.context", "training")]
