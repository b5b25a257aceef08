"""notebooks/interactive_training.ipynb runs headless (nbclient, the project's ipykernel) on generated data:
generate -> ETL -> Feast -> the notebook -> the promotion command it prints.

Its outputs hold the plots as PNG, the live plot is one output updated while training runs, the
MLflow runs carry the notebook and its commit, and the printed command opens the promotion request.
"""

from __future__ import annotations

import base64
import io
import re
import shlex
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from nbclient import NotebookClient
from PIL import Image

from components.common.config import load_settings

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
NOTEBOOK = REPO / "notebooks" / "interactive_training.ipynb"
# small enough for CI, the same code path as the defaults (papermill injects parameters the same way); one
# torch thread: on a loaded 2-core machine two intra-op threads trained 8x slower (benchmarks/notebook.py)
PARAMETERS = """\
TRAIN_PARAMS = {"max_steps": 40, "eval_every": 10, "system_metrics": False, "threads": 1}
TUNE_TRIALS = 4
TUNE_PARAMS = {"max_steps": 20, "eval_every": 10, "system_metrics": False, "threads": 1}
"""


class RecordingClient(NotebookClient):
    """nbclient, counting the kernel's messages per cell (a live plot arrives as display updates)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.messages: dict[int, Counter] = {}

    def process_message(self, msg, cell, cell_index):
        self.messages.setdefault(cell_index, Counter())[msg["msg_type"]] += 1
        return super().process_message(msg, cell, cell_index)


def with_parameters(nb, source: str) -> None:
    """Insert `source` after the cell tagged `parameters`, as papermill does."""
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = ["injected-parameters"]
    nb.cells.insert(index + 1, cell)


def cell_index(nb, text: str) -> int:
    (index,) = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and text in c.source]
    return index


def pngs(cell) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(o["data"]["image/png"]))) for o in cell.outputs
            if o["output_type"] in ("display_data", "execute_result") and "image/png" in o["data"]]


def stdout(cell) -> str:
    return "".join(o["text"] for o in cell.outputs if o["output_type"] == "stream" and o["name"] == "stdout")


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def gitops_repo(path: Path) -> Path:
    (path / "manifests/overlays/prod").mkdir(parents=True)
    (path / "manifests/overlays/prod/model.env").write_text("MODEL_NAME=rankops-ranker\nMODEL_VERSION=0\n")
    git("init", "-q", "-b", "main", cwd=path)
    git("add", ".", cwd=path)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init", cwd=path)
    return path


def test_notebook_runs_headless_with_plots_lineage_and_the_promotion_command(spark, rankops_home, tmp_path,
                                                                           monkeypatch):
    from components.datagen.generate import generate_dataset
    from components.etl.run import run_etl
    from components.features.apply import run_apply
    from components.features.training_set import build_training_set

    gitops = gitops_repo(tmp_path / "gitops")
    for section in ("REGISTRY", "PROMOTION"):  # the kernel and the promotion command inherit the environment
        monkeypatch.setenv(f"RANKOPS_{section}__GIT_REPO", str(gitops))
    settings = load_settings("local")
    generate_dataset(tmp_path / "raw", impressions=4000, days=2, seed=7)
    run_etl(settings, tmp_path / "raw", spark)
    run_apply(settings)
    training_set = build_training_set(settings)

    nb = nbformat.read(NOTEBOOK, as_version=4)
    with_parameters(nb, PARAMETERS)
    client = RecordingClient(nb, timeout=300, kernel_name="python3",
                             resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()

    errors = [(i, o.get("ename"), o.get("evalue")) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o["output_type"] == "error"]
    assert errors == []
    overview = nb.cells[cell_index(nb, "load_training_set(settings, TRAINING_SET)")]
    assert any(training_set.ref in o["data"].get("text/markdown", "") for o in overview.outputs
               if o["output_type"] == "display_data")
    assert len(pngs(nb.cells[cell_index(nb, "Label distribution per split")])) == 1

    live = cell_index(nb, "first = train(")
    (plot,) = pngs(nb.cells[live])  # one output, redrawn in place
    assert plot.size == (1000, 360) and np.asarray(plot.convert("L")).std() > 20
    # the first draw creates the output; 4 evaluations (steps 10..40) and the end each update it
    assert client.messages[live]["display_data"] == 1 and client.messages[live]["update_display_data"] >= 5
    first_run = re.search(r"run (\w+): 40 steps;", stdout(nb.cells[live])).group(1)

    tuning = stdout(nb.cells[cell_index(nb, "run_tuning(")])
    complete, pruned = map(int, re.search(r"(\d+) complete, (\d+) pruned", tuning).groups())
    assert complete + pruned == 4 and complete >= 2  # the median pruner starts after two complete trials
    optuna_plots = pngs(nb.cells[cell_index(nb, "plot_optimization_history")])
    assert len(optuna_plots) == 3  # optimisation history, parameter importances, parallel coordinates
    assert all(np.asarray(p.convert("L")).std() > 20 for p in optuna_plots)
    assert len(pngs(nb.cells[cell_index(nb, "best = train(")])) == 1
    charts = nb.cells[cell_index(nb, "ndcg_curve_figure(")]
    assert len(pngs(charts)) == 2  # NDCG@k for k = 1..20 vs BM25, per-slice bars
    report = Path(re.search(r"report with these charts: (\S+)", stdout(charts)).group(1))
    assert report.name == "report.html" and "<svg" in report.read_text()

    client_ml = MlflowClient(settings.tracking_uri)
    runs = client_ml.search_runs([client_ml.get_experiment_by_name(settings.mlflow.experiment).experiment_id],
                                 "tags.`rankops.source` = 'notebook'")
    assert first_run in {r.info.run_id for r in runs} and len(runs) == 2
    status = git("status", "--porcelain", "--", str(NOTEBOOK))
    state = "committed" if not status else "untracked" if status.startswith("??") else "modified"
    for run in runs:
        assert run.data.tags["rankops.notebook"] == "notebooks/interactive_training.ipynb"
        assert run.data.tags["rankops.notebook_git_commit"] == git("rev-parse", "HEAD")
        assert run.data.tags["rankops.notebook_state"] == state
        copy = client_ml.download_artifacts(run.info.run_id, "notebook/interactive_training.ipynb", str(tmp_path / run.info.run_id))
        assert Path(copy).read_bytes() == NOTEBOOK.read_bytes()

    final = stdout(nb.cells[cell_index(nb, "register_model(settings, best.model_uri)")])
    command = re.search(r"promote with:\n  (rankops .+)\n", final).group(1)
    decision = re.search(r"--decision (\S+)", command).group(1)
    assert command == f"rankops --env local promote request 1 --decision {decision}"
    assert '"promote": true' in Path(decision).read_text()  # on this seeded data the tuned model wins
    argv = shlex.split(command)
    done = subprocess.run([str(Path(sys.executable).parent / argv[0]), *argv[1:]], cwd=NOTEBOOK.parent,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    (branch,) = git("branch", "--list", "promote/*", "--format=%(refname:short)", cwd=gitops).splitlines()
    assert "MODEL_VERSION=1" in git("show", f"{branch}:manifests/overlays/prod/model.env", cwd=gitops)
