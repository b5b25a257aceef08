"""I/O of the datagen KFP component: generate into the output artifact, report the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from components.common.kfp_step import kfp_step


@kfp_step
def run_generate_op(
    raw: Any, metrics: Any, *, impressions: int, days: int, seed: int, dirty_share: float, start_date: str
) -> dict[str, Any]:
    """Write a raw data set into the `raw` Dataset artifact's folder; counts go to metadata + metrics.

    The artifact's folder is the input contract's data directory, so `etl` can take it as `--input`.
    """
    from components.datagen.generate import generate_dataset

    out = Path(raw.path)
    result = generate_dataset(
        out, impressions=impressions, days=days, seed=seed, dirty_share=dirty_share, start_date=start_date
    )
    raw.metadata.update(
        {
            "uri": str(out),
            "batches": result["batches"],
            "lines": result["lines"],
            "valid_rows": result["valid_rows"],
            "quarantined_rows": result["quarantined_rows"],
            "duplicate_rows": result["duplicate_rows"],
            "defects": result["defects"],
            "ignored_files": result["ignored_files"],
            "params": result["params"],
        }
    )
    for key in ("lines", "valid_rows", "quarantined_rows", "duplicate_rows", "rows_per_s"):
        metrics.log_metric(key, float(result[key] or 0))
    return result
