"""KFP wrapper of the datagen stage: thin, the body imports and calls one function."""
# No `from __future__ import annotations`: KFP reads the real annotation objects.

from kfp import dsl
from kfp.dsl import Dataset, Metrics, Output

from components.common.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def generate_data_op(
    raw: Output[Dataset],
    metrics: Output[Metrics],
    impressions: int = 20000,
    days: int = 3,
    seed: int = 7,
    dirty_share: float = 0.02,
    start_date: str = "2026-10-01",
):
    """Synthetic raw search logs (input contract) in `raw`'s folder; ledger in its metadata."""
    from components.datagen.kfp_io import run_generate_op

    run_generate_op(
        raw, metrics, impressions=impressions, days=days, seed=seed, dirty_share=dirty_share, start_date=start_date
    )
