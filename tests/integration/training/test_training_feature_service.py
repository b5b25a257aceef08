"""A model records the feature service its training set was built for, not the profile's default.

`rankops pipeline run training -p service=ctr_baseline_v1` builds `features/training_set_ctr_baseline_v1`
(its manifest's extra names the service) while `training.feature_service` stays ranker_v1: the pyfunc
metadata, the run's lineage tag and the registered version must all say ctr_baseline_v1.
"""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from components.common.config import load_settings
from components.registry.register import register_model
from components.training.api import train
from tests.support.training_data import TINY_PARAMS, write_sample_training_set

pytestmark = pytest.mark.slow
SERVICE = "ctr_baseline_v1"  # not the local profile's training.feature_service
FAMILIES = {
    "electra": TINY_PARAMS,
    "lambdamart": {"model.family": "lambdamart", "model.n_estimators": 20, "model.min_data_in_leaf": 5,
                   "system_metrics": False},
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_model_records_the_training_sets_feature_service(family, tmp_path):
    settings = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path / "home"),
                                               "RANKOPS_REGISTRY__WRITE_BACK": "false"})
    assert settings.training.feature_service != SERVICE
    snap = write_sample_training_set(settings, service=SERVICE)
    assert snap.manifest["extra"]["feature_service"] == SERVICE  # what build_training_set writes too

    result = train(settings, training_set=snap.ref, params=FAMILIES[family], validate=True)

    assert result.scorer.meta["feature_service"] == SERVICE  # in memory (what the backtest scores with)
    mlflow.set_tracking_uri(settings.tracking_uri)
    assert mlflow.pyfunc.load_model(result.model_uri).metadata.metadata["feature_service"] == SERVICE
    client = MlflowClient(settings.tracking_uri)
    assert client.get_run(result.run_id).data.tags["rankops.feature_service"] == SERVICE
    registered = register_model(settings, result.model_uri)
    version = client.get_model_version(registered["name"], registered["version"])
    assert version.tags["rankops.feature_service"] == SERVICE


def test_validity_checks_the_signature_against_the_models_own_feature_service(tmp_path):
    """A published training set of the profile's service with other features does not fail a model of another
    service: the signature is checked against the latest training set of the service the model records."""
    from components.common.snapshots import SnapshotStore
    from components.training.validity import check_model
    from tests.support.training_data import DEFAULTS, FEATURES, build_sample_training_set

    settings = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path / "home")})
    write_sample_training_set(settings)  # the profile's service (ranker_v1) with all four features
    features = [f for f in FEATURES if f != "qv_mean_position"]
    snap = SnapshotStore(settings.lakehouse).write(
        f"features/training_set_{SERVICE}", build_sample_training_set().drop(columns=["qv_mean_position"]),
        extra={"feature_service": SERVICE, "features": features, "defaults": {f: DEFAULTS[f] for f in features}},
        publish=True)

    result = train(settings, training_set=snap.ref, params=FAMILIES["lambdamart"], validate=True)

    assert result.validity["passed"]
    signature = next(c for c in check_model(settings, result.model_uri).checks if c.name == "signature")
    assert signature.passed and snap.ref in signature.detail
