"""evaluate_op and compare_op hand the charted reports to KFP as HTML artifacts (the dashboard's
visualisation), on the real KFP local runner."""

from pathlib import Path

import pytest
from kfp import dsl

from components.evaluation.component import compare_op, evaluate_op
from components.registry.register import register_model
from pipelines.local import run_local
from tests.support.evaluation_data import log_scorer, write_training_set

pytestmark = pytest.mark.slow


def test_evaluate_and_compare_steps_output_html_reports(settings, monkeypatch):
    monkeypatch.setenv("RANKOPS_REGISTRY__WRITE_BACK", "false")  # the steps are subprocesses: settings via env
    settings.registry.write_back = False
    snap = write_training_set(settings)
    uri = log_scorer(settings, {"signal": 1.0}, snapshot=snap)
    version = register_model(settings, uri)["version"]

    @dsl.pipeline(name="rankops-report-artifacts-test")
    def flow(env: str = "local"):
        model = dsl.importer(artifact_uri=snap.path, artifact_class=dsl.Model, metadata={"model_uri": uri})
        data = dsl.importer(artifact_uri=snap.path, artifact_class=dsl.Dataset, metadata={"ref": snap.ref})
        evaluate_op(model=model.output, training_set=data.output, env=env)
        compare_op(version=version, env=env)

    tasks = run_local("rankops-report-artifacts-test", settings, pipeline_func=flow)["tasks"]
    evaluation = Path(tasks["evaluate-op"]["artifacts"]["html_report"]["uri"]).read_text()
    decision = Path(tasks["compare-op"]["artifacts"]["html_report"]["uri"]).read_text()
    assert f"<title>rankops evaluation: {uri}</title>" in evaluation and evaluation.count("<svg") == 2
    assert f"<title>rankops decision: v{version} vs bm25</title>" in decision and decision.count("<svg") == 1
    markdown = Path(tasks["evaluate-op"]["artifacts"]["report"]["uri"]).read_text()
    assert markdown.startswith(f"# Evaluation of `{uri}`")  # the Markdown report stays beside it
