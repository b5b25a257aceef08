"""Pipeline-level steps that belong to no single stage (thin KFP wrappers, like every component)."""
# No `from __future__ import annotations`: KFP reads the real annotation objects.

from kfp import dsl
from kfp.dsl import Dataset, Output

from components.common.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def latest_gold_op(gold: Output[Dataset], env: str = "local"):
    """The latest published gold snapshots, as the gold artifact etl_op would have produced."""
    from pipelines.lakehouse import run_latest_gold_op

    run_latest_gold_op(gold, env=env)
