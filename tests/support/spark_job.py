"""Run the ETL and batch scoring under one Spark master, in a process of its own, and print what they wrote.

    python -m tests.support.spark_job HOME MASTER

One JVM holds one SparkContext, so each master gets its own process. Everything else is the
production path: the generator, `run_etl`, a registered reference ranker, `run_batch_scoring`,
with only the profile's Spark settings differing (RANKOPS_SPARK__* from the caller's environment).
Prints one JSON line: the master Spark reports, how many executors registered with the driver,
the Python version of the driver and of the executors' Python workers, and (row count, content
hash) of every gold table and of the scored snapshot.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path


def main(home: Path, master: str) -> dict:
    os.environ["RANKOPS_HOME"] = str(home)
    os.environ["RANKOPS_SPARK__MASTER"] = master
    os.environ["RANKOPS_SPARK__SHUFFLE_PARTITIONS"] = "4"
    from components.common.config import load_settings
    from components.common.contract import GOLD_TABLES
    from components.common.snapshots import SnapshotStore
    from components.common.spark import get_spark
    from components.datagen.generate import generate_dataset
    from components.etl.run import run_etl
    from components.inference.run import run_batch_scoring
    from tests.support import serving_data as sample
    from tests.support.reference_model import log_reference_model

    settings = load_settings("local", environ=os.environ)
    generate_dataset(home / "raw", impressions=1500, days=2, seed=5, dirty_share=0.05)
    spark = get_spark(settings)
    summary = run_etl(settings, home / "raw", spark)
    store = SnapshotStore(settings.lakehouse)
    gold = {t: [store.get(t, summary["snapshots"][t]).row_count,
                store.get(t, summary["snapshots"][t]).manifest["content_hash"]] for t in GOLD_TABLES}
    log_reference_model(settings, sample.FEATURES, weights=[0.5, 2.0, 3.0, 0.001, 1.5])
    train = sample.write_training_set(settings, sample.make_tables(n_queries=8, n_videos=60, seed=3))
    scored = run_batch_scoring(settings, model_uri="models:/rankops-ranker@champion", input_ref=train.ref,
                               spark=spark, partitions=4)
    scored_snap = store.get(settings.serving.scored_table, scored["snapshot_id"])
    executors = spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1  # minus the driver
    workers = spark.sparkContext.parallelize(range(4), 4).map(lambda _: platform.python_version()).distinct()
    result = {"master": spark.sparkContext.master, "executors": executors, "gold": gold,
              "python": {"driver": platform.python_version(), "executors": sorted(workers.collect())},
              "scored": [scored_snap.row_count, scored_snap.manifest["content_hash"]]}
    spark.stop()
    return result


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]), sys.argv[2])))
