"""The one way to get a Spark session, configured from the profile.

The transforms never know where they run: only this configuration differs. `local[*]` (laptop,
tests) and `local-cluster[...]` (several executor JVMs on one machine) run in the process; a
`spark://` standalone master gets the profile's executor memory and cores (pipelines/containers/
spark_cluster.py starts one from the image); a
`k8s://` master makes the pipeline step's pod the driver (client mode), which starts executor pods
from the pod template of manifests/components/spark, grows and shrinks them with dynamic
allocation (shuffle tracking: no external shuffle service) and removes them when the session stops.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from components.common.config import Settings

K8S_PREFIX = "k8s://"
STANDALONE_PREFIX = "spark://"
# The step pod learns its own name and address through the downward API (pipelines/placement.py).
POD_NAME_ENV = "POD_NAME"
POD_IP_ENV = "POD_IP"


class SparkConfigError(ValueError):
    """The profile asks for a master the environment cannot provide."""


def on_kubernetes(settings: Settings) -> bool:
    return settings.spark.master.startswith(K8S_PREFIX)


def _base_conf(settings: Settings) -> dict[str, str]:
    return {
        "spark.master": settings.spark.master,
        "spark.app.name": settings.spark.app_name,
        "spark.driver.memory": settings.spark.driver_memory,
        "spark.sql.shuffle.partitions": str(settings.spark.shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.warehouse.dir": os.path.join(str(settings.home), "spark-warehouse"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={settings.home} {settings.spark.driver_java_options}".strip(),
    }


def _kubernetes_conf(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """Client mode from the step's pod: executors owned by it, so they go when it goes."""
    missing = [name for name in (POD_NAME_ENV, POD_IP_ENV) if not environ.get(name)]
    if missing:
        raise SparkConfigError(
            f"spark.master {settings.spark.master!r} runs the driver in this pod, but {', '.join(missing)} "
            "is not set: a pipeline step gets both from pipelines/placement.py (with_spark_executors); "
            "elsewhere use a local[...] master")
    k8s, executor = settings.spark.kubernetes, settings.spark.executor
    cores = str(executor.cores)
    return {
        "spark.submit.deployMode": "client",
        "spark.kubernetes.namespace": k8s.namespace or settings.kfp.namespace,
        "spark.kubernetes.container.image": settings.kfp.image,
        "spark.kubernetes.executor.podTemplateFile": k8s.pod_template,
        "spark.kubernetes.executor.podTemplateContainerName": k8s.container_name,
        "spark.kubernetes.authenticate.executor.serviceAccountName": k8s.service_account,
        "spark.kubernetes.driver.pod.name": environ[POD_NAME_ENV],
        "spark.kubernetes.executor.deleteOnTermination": "true",
        "spark.kubernetes.executor.request.cores": cores,
        "spark.kubernetes.executor.limit.cores": cores,
        "spark.driver.host": environ[POD_IP_ENV],
        "spark.driver.bindAddress": "0.0.0.0",
        "spark.driver.port": str(k8s.driver_port),
        "spark.driver.blockManager.port": str(k8s.block_manager_port),
        "spark.blockManager.port": str(k8s.block_manager_port),
        "spark.executor.memory": executor.memory,
        "spark.executor.cores": cores,
        "spark.executor.instances": str(executor.instances),
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.shuffleTracking.enabled": "true",
        "spark.dynamicAllocation.initialExecutors": str(executor.instances),
        "spark.dynamicAllocation.minExecutors": str(executor.min_instances),
        "spark.dynamicAllocation.maxExecutors": str(executor.max_instances),
    }


def _standalone_conf(settings: Settings) -> dict[str, str]:
    """A standalone master (spark://): the profile's executors, as many as `instances` x `cores` allow."""
    executor = settings.spark.executor
    return {"spark.executor.memory": executor.memory, "spark.executor.cores": str(executor.cores),
            "spark.cores.max": str(executor.instances * executor.cores)}


def spark_conf(settings: Settings, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every option the session starts with: base, then the master's, then the profile's `conf`."""
    environ = os.environ if environ is None else environ
    conf = _base_conf(settings)
    if on_kubernetes(settings):
        conf.update(_kubernetes_conf(settings, environ))
    elif settings.spark.master.startswith(STANDALONE_PREFIX):
        conf.update(_standalone_conf(settings))
    conf.update(settings.spark.conf)
    return conf


def get_spark(settings: Settings) -> SparkSession:
    """A session in UTC, quiet, writing Parquet timestamps that pandas and Feast read back."""
    if not on_kubernetes(settings):  # in a pod the driver binds 0.0.0.0 and advertises POD_IP
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON") or sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    for key, value in spark_conf(settings).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def with_executors(settings: Settings, instances: int) -> Settings:
    """`settings` with `instances` executors at start (a pipeline run's override; 0 keeps the profile's).

    The dynamic-allocation ceiling rises with it, so a run that asks for more gets them.
    """
    if instances < 0:
        raise SparkConfigError(f"spark_executors must be >= 0 (0 = the profile's), got {instances}")
    if instances == 0:
        return settings
    executor = settings.spark.executor.model_copy(update={
        "instances": instances, "max_instances": max(instances, settings.spark.executor.max_instances),
        "min_instances": min(instances, settings.spark.executor.min_instances)})
    return settings.model_copy(update={"spark": settings.spark.model_copy(update={"executor": executor})})


@contextmanager
def sql_conf(spark, values: dict[str, str]) -> Iterator[None]:
    """Session SQL options set for the block, restored (or unset) after it."""
    before = {key: spark.conf.get(key, None) for key in values}
    for key, value in values.items():
        spark.conf.set(key, value)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                spark.conf.unset(key)
            else:
                spark.conf.set(key, value)
