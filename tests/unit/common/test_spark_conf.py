"""The Spark options each profile starts a session with: written out by hand, key by key."""

from pathlib import Path

import pytest

from components.common.config import ConfigError, load_settings
from components.common.spark import SparkConfigError, spark_conf, with_executors

POD = {"POD_NAME": "rankops-etl-abc12-driver", "POD_IP": "10.1.2.3"}


def _base(home: Path, master: str, memory: str, partitions: str, jvm: str = "-XX:+UseParallelGC") -> dict[str, str]:
    return {
        "spark.master": master,
        "spark.app.name": "rankops",
        "spark.driver.memory": memory,
        "spark.sql.shuffle.partitions": partitions,
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.warehouse.dir": f"{home}/spark-warehouse",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={home} {jvm}",
    }


def test_local_profile_runs_in_process(tmp_path):
    settings = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path)})
    assert spark_conf(settings, environ={}) == _base(tmp_path, "local[*]", "2g", "4",
                                                     "-XX:+UseParallelGC -XX:TieredStopAtLevel=1")


def test_long_local_jobs_can_take_the_optimising_jit_back(tmp_path):
    settings = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path),
                                               "RANKOPS_SPARK__DRIVER_JAVA_OPTIONS": "-XX:+UseParallelGC"})
    assert spark_conf(settings, environ={})["spark.driver.extraJavaOptions"] == \
        f"-Dderby.system.home={tmp_path} -XX:+UseParallelGC"


def test_prod_profile_starts_executor_pods_from_the_template(tmp_path):
    settings = load_settings("prod", environ={"RANKOPS_HOME": str(tmp_path),
                                              "RANKOPS_KFP__IMAGE": "ghcr.io/rankops/rankops:0.1.0@sha256:" + "a" * 64})
    expected = _base(tmp_path, "k8s://https://kubernetes.default.svc", "8g", "64") | {
        "spark.submit.deployMode": "client",
        "spark.kubernetes.namespace": "rankops-prod",
        "spark.kubernetes.container.image": "ghcr.io/rankops/rankops:0.1.0@sha256:" + "a" * 64,
        "spark.kubernetes.executor.podTemplateFile": "/etc/rankops/spark/executor-pod-template.yaml",
        "spark.kubernetes.executor.podTemplateContainerName": "spark-executor",
        "spark.kubernetes.authenticate.executor.serviceAccountName": "rankops-spark-executor",
        "spark.kubernetes.driver.pod.name": "rankops-etl-abc12-driver",
        "spark.kubernetes.executor.deleteOnTermination": "true",
        "spark.kubernetes.executor.request.cores": "2",
        "spark.kubernetes.executor.limit.cores": "2",
        "spark.driver.host": "10.1.2.3",
        "spark.driver.bindAddress": "0.0.0.0",
        "spark.driver.port": "7078",
        "spark.driver.blockManager.port": "7079",
        "spark.blockManager.port": "7079",
        "spark.executor.memory": "6g",
        "spark.executor.cores": "2",
        "spark.executor.instances": "2",
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.shuffleTracking.enabled": "true",
        "spark.dynamicAllocation.initialExecutors": "2",
        "spark.dynamicAllocation.minExecutors": "0",
        "spark.dynamicAllocation.maxExecutors": "4",
    }
    assert spark_conf(settings, environ=POD) == expected


def test_a_run_overrides_the_executor_count_and_the_profile_conf_wins(tmp_path):
    environ = {"RANKOPS_HOME": str(tmp_path), "RANKOPS_SPARK__EXECUTOR__INSTANCES": "3",
               "RANKOPS_SPARK__EXECUTOR__MAX_INSTANCES": "3", "RANKOPS_SPARK__EXECUTOR__MEMORY": "12g",
               "RANKOPS_SPARK__CONF__spark.dynamicAllocation.enabled": "false"}
    conf = spark_conf(load_settings("dev", environ=environ), environ=POD)
    picked = {k: conf[k] for k in ("spark.executor.instances", "spark.dynamicAllocation.initialExecutors",
                                   "spark.dynamicAllocation.maxExecutors", "spark.executor.memory",
                                   "spark.dynamicAllocation.enabled", "spark.kubernetes.namespace")}
    assert picked == {"spark.executor.instances": "3", "spark.dynamicAllocation.initialExecutors": "3",
                      "spark.dynamicAllocation.maxExecutors": "3", "spark.executor.memory": "12g",
                      "spark.dynamicAllocation.enabled": "false", "spark.kubernetes.namespace": "rankops-dev"}


def test_a_kubernetes_master_outside_a_step_pod_says_what_is_missing(tmp_path):
    settings = load_settings("staging", environ={"RANKOPS_HOME": str(tmp_path)})
    with pytest.raises(SparkConfigError, match=r"POD_IP is not set: a pipeline step gets both from "
                                               r"pipelines/placement.py"):
        spark_conf(settings, environ={"POD_NAME": "x"})


def test_executor_bounds_are_checked(tmp_path):
    environ = {"RANKOPS_HOME": str(tmp_path), "RANKOPS_SPARK__EXECUTOR__INSTANCES": "9"}
    with pytest.raises(ConfigError, match=r"spark: Value error, executor: need min_instances <= instances <= "
                                          r"max_instances, got 0 <= 9 <= 2"):
        load_settings("dev", environ=environ)


@pytest.mark.parametrize(("asked", "expected"), [
    (0, (2, 0, 4)),   # the profile's
    (6, (6, 0, 6)),   # more than the profile's ceiling: the ceiling follows
    (1, (1, 0, 4)),
])
def test_a_pipeline_run_overrides_the_executor_count(tmp_path, asked, expected):
    settings = with_executors(load_settings("prod", environ={"RANKOPS_HOME": str(tmp_path)}), asked)
    e = settings.spark.executor
    assert (e.instances, e.min_instances, e.max_instances) == expected
    conf = spark_conf(settings, environ=POD)
    assert (conf["spark.dynamicAllocation.initialExecutors"], conf["spark.dynamicAllocation.maxExecutors"]) == (
        str(expected[0]), str(expected[2]))


def test_a_negative_executor_count_is_refused(tmp_path):
    with pytest.raises(SparkConfigError, match=r"spark_executors must be >= 0 \(0 = the profile's\), got -1"):
        with_executors(load_settings("prod", environ={"RANKOPS_HOME": str(tmp_path)}), -1)


@pytest.mark.parametrize(("pipeline", "steps"), [("etl", ["etl-op", "etl-op-2"]), ("batch_inference", ["batch-score-op"])])
def test_the_pipeline_parameter_reaches_the_spark_steps(pipeline, steps):
    import yaml

    from pipelines.catalogue import compiled_path

    spec = next(yaml.safe_load_all(compiled_path(pipeline).read_text()))
    assert spec["root"]["inputDefinitions"]["parameters"]["spark_executors"] == {
        "defaultValue": 0.0, "isOptional": True, "parameterType": "NUMBER_INTEGER"}

    def tasks(dag):
        for name, task in dag["tasks"].items():
            inner = spec["components"][task["componentRef"]["name"]].get("dag")
            yield from tasks(inner) if inner else [(name, task)]

    wired = {name: task["inputs"]["parameters"]["spark_executors"] for name, task in tasks(spec["root"]["dag"])
             if name in steps}
    assert sorted(wired) == steps
    assert all(v["componentInputParameter"] in ("spark_executors", "pipelinechannel--spark_executors")
               for v in wired.values())


def test_feast_keeps_its_own_spark_in_the_features_step(tmp_path):
    """The features step starts no executor pods (no template, no pod identity): Feast's offline store stays in-pod."""
    from components.features.store_config import render_store_config

    cfg = load_settings("prod", environ={"RANKOPS_HOME": str(tmp_path), "POSTGRES_USER": "u"})
    assert cfg.spark.master == "k8s://https://kubernetes.default.svc"
    conf = render_store_config(cfg)["offline_store"]["spark_conf"]
    assert conf["spark.master"] == "local[*]"
    assert not [k for k in conf if k.startswith("spark.kubernetes.")]


def test_a_standalone_master_gets_the_profiles_executors(tmp_path):
    """spark://: executor memory and cores from the profile, and a core cap of instances x cores."""
    settings = load_settings("local", environ={"RANKOPS_HOME": str(tmp_path),
                                               "RANKOPS_SPARK__MASTER": "spark://127.0.0.1:7077",
                                               "RANKOPS_SPARK__EXECUTOR__MEMORY": "1g",
                                               "RANKOPS_SPARK__EXECUTOR__CORES": "2",
                                               "RANKOPS_SPARK__EXECUTOR__INSTANCES": "3"})
    assert spark_conf(settings, environ={}) == {
        **_base(tmp_path, "spark://127.0.0.1:7077", "2g", "4", "-XX:+UseParallelGC -XX:TieredStopAtLevel=1"),
        "spark.executor.memory": "1g", "spark.executor.cores": "2", "spark.cores.max": "6"}
