"""One registry + feature tables per test module: MLflow's SQLite start-up costs seconds."""

from __future__ import annotations

import pytest

from components.common.config import load_settings
from tests.support import serving_data as sample


@pytest.fixture(scope="module")
def serving_env(tmp_path_factory: pytest.TempPathFactory):
    """(settings, tables, model info): a registered reference ranker with alias champion -> v1."""
    from tests.support.reference_model import log_reference_model

    home = tmp_path_factory.mktemp("serving-home")
    settings = load_settings("local", environ={"RANKOPS_HOME": str(home)})
    tables = sample.make_tables(n_queries=12, n_videos=120, seed=1)
    info = log_reference_model(settings, sample.FEATURES, weights=[0.5, 2.0, 3.0, 0.001, 1.5])
    return settings, tables, info
