"""Promotion across environments: dev's registry and prod's are two real MLflow stores.

The pinned number must name a version in the registry prod reads, with the very weights dev
compared and staging-checked, and it must keep working when dev's store is gone.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from components.promotion.decisions import approve_request, rollback
from components.promotion.records import read_pin
from components.promotion.request import request_promotion
from components.promotion.settings import TargetRegistry
from components.registry.lookup import alias_version, use_mlflow
from components.registry.register import register_model
from tests.support.evaluation_data import log_scorer, make_training_frame, write_training_set

PIN = "manifests/overlays/prod/model.env"
NAME = "rankops-ranker"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def two_registries(tmp_path: Path, settings):
    """A GitOps repo (local mode) and prod's own MLflow store, which already holds two unrelated versions."""
    repo = tmp_path / "gitops"
    (repo / "manifests/overlays/prod").mkdir(parents=True)
    (repo / PIN).write_text(f"MODEL_NAME={NAME}\nMODEL_VERSION=0\n")
    git(tmp_path, "init", "-q", "-b", "main", str(repo))
    git(repo, "add", ".")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init")
    settings.promotion.git_repo = str(repo)
    settings.registry.write_back = False
    prod_dir = tmp_path / "prod-mlflow"
    prod_uri = f"sqlite:///{prod_dir}/mlflow.db"
    prod_dir.mkdir()
    settings.promotion.target = TargetRegistry(tracking_uri=prod_uri, artifact_location=str(prod_dir / "artifacts"))
    prod = MlflowClient(tracking_uri=prod_uri, registry_uri=prod_uri)
    prod.create_registered_model(NAME)
    for n in (1, 2):
        old = prod_dir / f"legacy-{n}"
        old.mkdir()
        prod.create_model_version(NAME, str(old), description="an older prod model")
    return repo, prod, prod_dir


def weight_file_hash(client: MlflowClient, version: str) -> tuple[str, str]:
    """(path, sha256) of the version's weights file, read straight from the store's local artifact directory."""
    root = Path(client.get_model_version_download_uri(NAME, version).removeprefix("file://"))
    (path,) = sorted(root.rglob("*.safetensors"))
    return str(path), hashlib.sha256(path.read_bytes()).hexdigest()


def test_prod_pins_a_copy_in_its_own_registry_with_the_same_weights(settings, two_registries):
    repo, prod, prod_dir = two_registries
    snap = write_training_set(settings)
    v1, v2 = (register_model(settings, log_scorer(settings, w, snapshot=snap))["version"]
              for w in ({"signal": 1.0}, {"signal": 1.0, "noise": 0.05}))
    dev = use_mlflow(settings)
    sample = make_training_frame(4, 3)[["query_text", "title", "description", "signal", "noise"]]
    dev_scores = mlflow.pyfunc.load_model(f"models:/{NAME}/{v1}").predict(sample)

    req = request_promotion(settings, v1, by="pipeline")
    assert (req["version"], req["source_version"], req["copied"], req["mode"]) == ("3", v1, True, "local")
    assert read_pin(git(repo, "show", f"{req['branch']}:{PIN}")) == "3"  # prod's number, not dev's
    dev_path, dev_hash = weight_file_hash(dev, v1)
    prod_path, prod_hash = weight_file_hash(prod, "3")
    assert prod_hash == dev_hash and prod_path.startswith(str(prod_dir / "artifacts"))
    copy = prod.get_model_version(NAME, "3")
    dev_mv = dev.get_model_version(NAME, v1)
    assert (copy.tags["rankops.source_version"], copy.tags["rankops.source_run_id"]) == (v1, dev_mv.run_id)
    assert copy.tags["rankops.training_set"] == dev_mv.tags["rankops.training_set"] == snap.ref
    assert copy.tags["rankops.weights_sha256"] == req["weights_sha256"]
    assert dev.get_model_version(NAME, v1).tags["rankops.copied_to"].endswith("#3")

    approve_request(settings, req["request_id"], by="dora")
    assert read_pin((repo / PIN).read_text()) == "3"
    assert alias_version(prod, NAME, "champion") == "3" and alias_version(dev, NAME, "champion") == v1

    # the same source version asked again reuses its copy; a second one gets the next prod number
    forced = request_promotion(settings, v2, by="alice", force=True)  # vs champion v1 the verdict is keep
    again = request_promotion(settings, v2, by="alice", force=True)
    assert (forced["version"], forced["copied"], again["version"], again["copied"]) == ("4", True, "4", False)
    approve_request(settings, again["request_id"], by="dora")
    assert alias_version(prod, NAME, "champion") == "4" and alias_version(dev, NAME, "champion") == v2
    back = rollback(settings, by="erin", note="back to the first copy")
    assert (back["from_version"], back["to_version"]) == ("4", "3")
    assert alias_version(prod, NAME, "champion") == "3" and alias_version(dev, NAME, "champion") == v1

    # prod does not need dev's store: remove it, then serve the pinned version from prod alone
    shutil.rmtree(Path(settings.home) / "mlflow")
    mlflow.set_tracking_uri(settings.promotion.target.tracking_uri)
    mlflow.set_registry_uri(settings.promotion.target.tracking_uri)
    prod_scores = mlflow.pyfunc.load_model(f"models:/{NAME}/3").predict(sample)
    assert list(prod_scores) == list(dev_scores)


def test_compare_follows_the_champion_prod_moved_in_its_own_registry(settings, two_registries):
    """Prod's `promote sync` moves prod's alias only (prod never reaches dev): dev's mirror follows on compare."""
    from components.evaluation.compare_run import run_compare
    from components.promotion.state import follow_target_champion

    _, prod, _ = two_registries
    snap = write_training_set(settings)
    v1, v2 = (register_model(settings, log_scorer(settings, w, snapshot=snap))["version"]
              for w in ({"signal": 1.0}, {"signal": 1.0, "noise": 0.05}))
    request_promotion(settings, v1, by="pipeline")  # copies v1 into prod as v3
    prod.set_registered_model_alias(NAME, "champion", "3")  # what sync does in prod after the merge
    dev = use_mlflow(settings)
    assert alias_version(dev, NAME, "champion") is None
    decision = run_compare(settings, v2)
    assert (decision["champion_version"], decision["reference"]) == (v1, f"champion v{v1}")
    assert alias_version(dev, NAME, "champion") == v1
    # a champion copied from another environment's registry names no version of dev's: the mirror stays
    for key, value in {"rankops.source_registry": "http://mlflow.rankops-staging.svc.cluster.local:5000",
                       "rankops.source_version": v2}.items():
        prod.set_model_version_tag(NAME, "2", key, value)
    prod.set_registered_model_alias(NAME, "champion", "2")
    follow_target_champion(settings, dev)
    assert alias_version(dev, NAME, "champion") == v1


def test_online_evidence_from_prod_names_the_copy_s_number(settings, two_registries, tmp_path):
    """An experiment in prod ran the copy (prod's number): its report is evidence for the source version."""
    from components.promotion.state import PromotionError
    from components.registry.transfer import copy_version
    from tests.support.experiment_logs import report_of

    _, prod, _ = two_registries
    snap = write_training_set(settings)
    v1, v2, v3 = (register_model(settings, log_scorer(settings, w, snapshot=snap))["version"]
                  for w in ({"signal": 1.0}, {"signal": 1.0, "noise": 0.05}, {"signal": 0.5}))
    prod_uri = settings.promotion.target.tracking_uri
    assert copy_version(settings, use_mlflow(settings), NAME, v2)["version"] == "3"  # prod's v1, v2 are legacy

    def report(name: str, **log) -> str:
        report_of(tmp_path, tmp_path / name, champion="1", clicked_team="challenger", **log)
        return str(tmp_path / name / "report.json")

    refused = {
        # prod's v3 is the copy of v2, not of v1
        v1: (report("prod-v3-for-v1", challenger="3", registry=prod_uri),
             f"numbers its versions in the registry {prod_uri}, which holds no copy of the requested version {v1}"),
        # an experiment in prod on prod's v2 (a legacy model) is not about dev's v2
        v2: (report("prod-v2", challenger="2", registry=prod_uri),
             f"is about challenger version 2, not the requested version {v2} (v3 in {prod_uri})"),
        v3: (report("staging", challenger=v3, registry="http://mlflow.rankops-staging.svc.cluster.local:5000"),
             "numbers its versions in the registry http://mlflow.rankops-staging.svc.cluster.local:5000"),
    }
    for version, (path, message) in refused.items():
        with pytest.raises(PromotionError, match="online evidence: ") as caught:
            request_promotion(settings, version, by="alice", force=True, online_evidence=path)
        assert message in str(caught.value) and path in str(caught.value)
    assert sorted(int(mv.version) for mv in prod.search_model_versions(f"name='{NAME}'")) == [1, 2, 3]  # no copy

    req = request_promotion(settings, v2, by="alice", force=True,
                            online_evidence=report("prod-v3", challenger="3", registry=prod_uri))
    assert (req["version"], req["source_version"], req["copied"]) == ("3", v2, False)
    # a report without a registry predates the field: its numbers are the source registry's
    again = request_promotion(settings, v1, by="alice", force=True, online_evidence=report("old", challenger=v1))
    assert (again["version"], again["source_version"]) == ("4", v1)


def champion_from_staging(settings, prod: MlflowClient, tmp_path: Path, snap) -> tuple[str, str, str]:
    """A third real registry (staging's) whose version was copied into prod and made prod's champion there.

    Returns (prod's number, staging's number, staging's registry as the copy's tag names it).
    """
    from components.registry.transfer import copy_version, public_uri

    staging = settings.model_copy(deep=True)
    staging.env = "staging"
    (tmp_path / "staging-mlflow").mkdir()
    staging.mlflow.tracking_uri = f"sqlite:///{tmp_path}/staging-mlflow/mlflow.db"
    staging.mlflow.artifact_location = str(tmp_path / "staging-mlflow" / "artifacts")
    for _ in range(3):  # staging numbers its versions on its own: its v4 is no version of dev's
        sv = register_model(staging, log_scorer(staging, {"signal": 1.0, "noise": 0.2}, snapshot=snap))["version"]
    copy = copy_version(staging, use_mlflow(staging), NAME, sv)["version"]
    prod.set_registered_model_alias(NAME, "champion", copy)  # what prod's sync does once staging's request merged
    use_mlflow(settings)  # back to dev's store
    return copy, sv, public_uri(staging.tracking_uri)


def test_a_champion_copied_from_another_registry_is_no_baseline_for_dev(settings, two_registries, tmp_path):
    """Staging's version is prod's champion: dev's stale @champion is not what prod serves, so a comparison
    against it backs no request (a reviewer may still take it with --force), and it is not 'already champion'."""
    from components.evaluation.compare_run import run_compare
    from components.promotion.state import PromotionError
    from components.registry.transfer import copy_version

    _, prod, _ = two_registries
    snap = write_training_set(settings)
    v1, v2 = (register_model(settings, log_scorer(settings, w, snapshot=snap))["version"]
              for w in ({"noise": 1.0}, {"signal": 1.0}))
    dev = use_mlflow(settings)
    # an earlier promotion from dev: prod's v3 is dev's v1, and dev's mirror points at v1
    assert copy_version(settings, dev, NAME, v1)["version"] == "3"
    prod.set_registered_model_alias(NAME, "champion", "3")
    dev.set_registered_model_alias(NAME, "champion", v1)
    copy, staging_version, staging_uri = champion_from_staging(settings, prod, tmp_path, snap)
    assert copy == "4" and staging_version != v1

    decision = run_compare(settings, v2)  # dev's mirror has nothing to follow: it stays, and compare reads it
    assert (decision["champion_version"], decision["promote"]) == (v1, True)
    assert alias_version(dev, NAME, "champion") == v1
    with pytest.raises(PromotionError, match="no passing comparison backs") as caught:
        request_promotion(settings, v2, decision=decision, by="alice")
    assert f"prod's champion is v{copy} " in str(caught.value)
    assert f"copied from v{staging_version} of {staging_uri}" in str(caught.value)
    assert f"the comparison was against champion {v1}" in str(caught.value)

    forced = request_promotion(settings, v2, decision=decision, by="alice", force=True)
    assert (forced["forced"], forced["evidence"]["verified"], forced["champion_seen"]) == (True, False, copy)
    assert any(staging_uri in p for p in forced["evidence"]["problems"])
    # dev's v1 is no longer what prod serves: asking for it again is a request, not "already the champion"
    again = request_promotion(settings, v1, by="alice", force=True)
    assert (again["version"], again["source_version"], again["copied"]) == ("3", v1, False)


def test_online_evidence_is_required_when_prod_has_a_champion_dev_never_had(settings, two_registries, tmp_path):
    """Only the first promotion (prod has no champion) is exempt: a champion from staging counts."""
    from components.promotion.state import PromotionError

    _, prod, _ = two_registries
    settings.promotion.require_online_evidence = True
    snap = write_training_set(settings)
    (v1,) = [register_model(settings, log_scorer(settings, {"signal": 1.0}, snapshot=snap))["version"]]
    champion_from_staging(settings, prod, tmp_path, snap)
    assert alias_version(use_mlflow(settings), NAME, "champion") is None
    with pytest.raises(PromotionError, match=f"require_online_evidence: v{v1} cannot be requested: no online evidence"):
        request_promotion(settings, v1, by="alice", force=True)
    assert sorted(int(mv.version) for mv in prod.search_model_versions(f"name='{NAME}'")) == [1, 2, 3]  # no copy
