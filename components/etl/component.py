"""KFP wrapper of the ETL stage: thin, the body imports and calls one function."""
# No `from __future__ import annotations`: KFP reads the real annotation objects.

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Markdown, Metrics, Output

from components.common.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def etl_op(
    gold: Output[Dataset],
    metrics: Output[Metrics],
    quality_report: Output[Markdown],
    data_sheets: Output[Markdown],
    data_sheets_html: Output[HTML],
    input_dir: str = "",
    env: str = "local",
    raw: Input[Dataset] = None,
    spark_executors: int = 0,
):
    """Bronze -> silver -> gold + quality gate on `input_dir` (or the `raw` artifact's folder).

    `gold.metadata` carries the lakehouse URI and every snapshot id; the task fails (nothing
    published) when the quality gate fails, after writing the report artifact. `spark_executors`
    > 0 overrides the profile's executor count for this run (cluster profiles). `data_sheets`(_html):
    schema, null shares, quarantine reasons and raw-batch lineage of every gold snapshot.
    """
    from components.etl.kfp_io import run_etl_op

    run_etl_op(gold, metrics, quality_report, input_dir=input_dir, env=env, raw=raw,
               spark_executors=spark_executors, sheets=(data_sheets, data_sheets_html))
