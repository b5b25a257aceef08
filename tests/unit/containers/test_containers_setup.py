"""The containerised run's plumbing, without a container engine: how steps are set up from the
compiled spec, where services listen, and the one-line errors when the engine is missing."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from components.common.config import load_settings
from pipelines.containers.engine import EngineError, open_engine, pod_security
from pipelines.containers.services import endpoints_of, free_loopback
from pipelines.containers.steps import Placement, StepSetupError, env_of, task_of, task_placements

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def placements():
    from pipelines.catalogue import load_pipeline

    return task_placements(load_pipeline("end_to_end"))


def test_every_task_of_end_to_end_gets_its_placement_including_the_conditional_one(placements):
    assert set(placements) == {"generate-data-op", "etl-op", "features-apply-op", "materialize-op", "training-set-op",
                               "train-op", "validate-model-op", "evaluate-op", "register-op", "compare-op",
                               "promotion-request-op"}
    lakehouse = ("rankops-lakehouse", "/mnt/lakehouse")
    assert {t: p.volumes for t, p in placements.items() if p.volumes != (lakehouse,)} == {
        "train-op": (lakehouse, ("rankops-models", "/mnt/models"))}  # staging/prod's pretrained checkpoint
    secret_names = {task: {name for name, _, _ in p.secrets} for task, p in placements.items()}
    assert secret_names["etl-op"] == set()  # the ETL reads and writes the lakehouse only
    assert {"rankops-postgres", "rankops-redis"} <= secret_names["materialize-op"]
    redis = next(keys for name, keys, _ in placements["materialize-op"].secrets if name == "rankops-redis")
    assert redis == (("REDIS_PASSWORD", "REDIS_PASSWORD"),)


def test_a_step_gets_exactly_the_keys_of_its_secrets_and_config_maps():
    placement = Placement(secrets=(("rankops-redis", (("REDIS_PASSWORD", "REDIS_PASSWORD"),), False),
                                   ("rankops-mlflow-client", (("USER", "MLFLOW_TRACKING_USERNAME"),), True)),
                          config_maps=(("rankops-database", (("POSTGRES_HOST", "PGHOST"),), False),))
    secrets = {"rankops-redis": {"REDIS_PASSWORD": "pw", "OTHER": "x"}}
    config_maps = {"rankops-database": {"POSTGRES_HOST": "postgres.ns", "POSTGRES_PORT": "5432"}}
    # the optional client secret is absent (as in a cluster without MLflow auth): skipped
    assert env_of(placement, secrets, config_maps, "t") == {"REDIS_PASSWORD": "pw", "PGHOST": "postgres.ns"}
    with pytest.raises(StepSetupError, match="step t needs Secret rankops-redis, which the stand-in cluster does "
                                             "not have"):
        env_of(placement, {}, config_maps, "t")
    with pytest.raises(StepSetupError, match="step t: ConfigMap rankops-database has no key POSTGRES_HOST"):
        env_of(placement, secrets, {"rankops-database": {}}, "t")


def test_the_task_name_comes_from_the_executor_output_path():
    executor_input = {"outputs": {"outputFile": "/root/kfp/rankops-end-to-end-2026/etl-op/executor_output.json"}}
    command = ["sh", "-c", "program", "--executor_input", json.dumps(executor_input), "--function_to_execute", "f"]
    assert task_of(command) == "etl-op"


def test_services_use_the_dev_profiles_host_names_and_ports(rankops_home):
    ep = endpoints_of(load_settings("dev"), "127.40.2.1")
    assert ep.hosts == {"postgres.rankops-dev.svc.cluster.local": "127.40.2.1",
                        "redis.rankops-dev.svc.cluster.local": "127.40.2.1",
                        "mlflow.rankops-dev.svc.cluster.local": "127.40.2.1",
                        "s3.rankops-dev.svc.cluster.local": "127.40.2.1",
                        "git.rankops-dev.svc.cluster.local": "127.40.2.1"}
    assert (ep.postgres[1], ep.redis[1], ep.mlflow[1], ep.ranker_port) == (5432, 6379, 5000, 8080)


def test_a_loopback_address_with_a_taken_port_is_passed_over():
    first = free_loopback([6379], seed=11)
    with socket.socket() as taken:
        taken.bind((first, 6379))
        taken.listen(1)
        second = free_loopback([6379], seed=11)
    assert second != first and second.startswith("127.") and second.endswith(".1")
    with socket.socket() as probe:
        probe.bind((second, 6379))  # really free


def test_pod_security_is_the_manifests_security_context(tmp_path):
    args = pod_security(tmp_path)
    assert {k: args[k] for k in ("user", "read_only", "cap_drop", "security_opt")} == {
        "user": "10001:10001", "read_only": True, "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"]}
    assert args["tmpfs"] == {"/tmp": "rw,exec,nosuid,nodev,mode=1777"}
    assert [(m["Target"], m["Source"], m["ReadOnly"]) for m in args["mounts"]] == [("/var/tmp", str(tmp_path), True)]


def test_no_podman_is_one_line_naming_the_make_target(monkeypatch, tmp_path):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no podman anywhere
    with pytest.raises(EngineError) as err:
        open_engine()
    assert str(err.value) == "podman is not installed: run `make container-tools` (apt packages podman, buildah, runc)"


def test_a_docker_host_without_an_engine_is_one_line_naming_it(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/none.sock")
    with pytest.raises(EngineError) as err:
        open_engine()
    assert str(err.value).startswith(f"no container engine answers at DOCKER_HOST=unix://{tmp_path}/none.sock")
    assert "\n" not in str(err.value) and "`make container-tools`" in str(err.value)


def test_constraints_pin_no_local_version_label():
    """A `+cpu` pin conflicts with the CUDA torch of the GPU image and with an index that has only the plain wheel."""
    pins = [line for line in (REPO / "constraints.txt").read_text().splitlines() if line.strip()]
    assert [p for p in pins if "+" in p] == []
    assert "torch==2.13.0" in pins


def test_stand_ins_take_the_local_profiles_latency_budgets_with_the_callers_overrides(tmp_path):
    from pipelines.containers.run import stand_in_env

    local = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_PROMOTION__LATENCY_BUDGET_MS": "5000"})
    assert stand_in_env("git://git.ns:9418/rankops.git", local) == {
        "RANKOPS_REGISTRY__GIT_URL": "git://git.ns:9418/rankops.git",
        "RANKOPS_PROMOTION__GIT_URL": "git://git.ns:9418/rankops.git",
        "RANKOPS_SPARK__MASTER": "local[*]",  # no Kubernetes API to start executor pods
        "RANKOPS_REGISTRY__FORGE__KIND": "local", "RANKOPS_PROMOTION__FORGE__KIND": "local",  # no GitHub API
        "RANKOPS_PROMOTION__TARGET": "null",  # no prod MLflow: prod reads dev's registry
        "RANKOPS_PROMOTION__LATENCY_BUDGET_MS": "5000.0",  # the override
        "RANKOPS_TRAINING__LATENCY_BUDGET_MS": "1000.0"}  # TrainingSettings' default, which local keeps


def test_the_dev_profile_under_the_stand_ins_has_no_forge_api_and_no_promotion_target(tmp_path):
    from pipelines.containers.run import stand_in_env

    local = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path)})
    dev = load_settings("dev", environ={"RANKOPS_HOME": str(tmp_path), **stand_in_env("git://git.ns:9418/r.git", local)})
    assert (dev.registry.forge.kind, dev.promotion.forge.kind, dev.promotion.target) == ("local", "local", None)
    assert dev.spark.master == "local[*]"
    assert (dev.registry.git_url, dev.promotion.git_url) == ("git://git.ns:9418/r.git", "git://git.ns:9418/r.git")
    assert dev.features.online_store_path == "redis.rankops-dev.svc.cluster.local:6379"  # the rest stays dev's


def test_a_forge_that_cannot_be_seeded_names_the_folder(tmp_path):
    from pipelines.containers.services import DevServices, ServiceError

    not_a_checkout = tmp_path / "src"
    not_a_checkout.mkdir()
    services = DevServices(endpoints_of(load_settings("dev", environ={"RANKOPS_HOME": str(tmp_path)}), "127.40.2.1"),
                           engine=None, image="unused", repo=not_a_checkout, run_label={})
    try:
        with pytest.raises(ServiceError, match=f"git forge: cannot seed it from {not_a_checkout} "
                                               r"\(a checkout of this repository is needed\): fatal: "):
            services._start_git()
        assert "git" not in services.procs  # no daemon started on a half-made forge
    finally:
        services.stop()
    assert not services.workdir.exists()
