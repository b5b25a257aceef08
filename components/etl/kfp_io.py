"""I/O of the ETL KFP component: run the ETL, fill the gold/metrics/report artifacts."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from components.common.kfp_step import kfp_step

METRIC_KEYS = ("bronze_rows", "silver_rows", "quarantined_rows", "duplicate_rows", "ignored_file_count", "seconds")


def collect_into(settings: Any, landing: str) -> dict[str, Any]:
    """Land the ranker replicas' closed impression files in `landing` (the ETL's input) before the scan."""
    from components.etl.collect import collect_impressions
    from components.inference.impressions import impression_spool

    spool = impression_spool(settings)
    result = collect_impressions(spool, landing, stale_s=settings.serving.impression_stale_s,
                                 shadow_keep_s=settings.serving.shadow_keep_s)
    print(f"impressions: {len(result['moved'])} file(s), {result['lines']} line(s) landed in "
          f"{landing}/{result['batch']}; {result['open']} still open; closed stale: {result['sealed']}; "
          f"shadow files deleted: {len(result['pruned_shadow'])}")
    return result


@kfp_step
def run_etl_op(gold: Any, metrics: Any, quality_report: Any, *, input_dir: str, env: str, raw: Any = None,
               spark_executors: int = 0, sheets: tuple[Any, Any] | None = None) -> dict[str, Any]:
    """Run `run_etl` for the profile `env`; the gate's failure fails the task after the report is kept."""
    from components.common.config import load_settings
    from components.common.spark import with_executors
    from components.etl.contracts import contract_of
    from components.etl.run import QualityGateFailed, run_etl

    source = input_dir or (raw.path if raw is not None else "")
    if not source:
        raise ValueError("etl_op needs input_dir or a raw Dataset artifact")
    settings = with_executors(load_settings(env), spark_executors)
    if input_dir and settings.etl.collect_impressions:
        collect_into(settings, input_dir)
    gold_tables = contract_of(settings).gold_tables
    failure: QualityGateFailed | None = None
    try:
        summary = run_etl(settings, source)
    except QualityGateFailed as exc:
        summary, failure = exc.summary, exc
    shutil.copyfile(summary["report_md"], quality_report.path)
    if sheets is not None:
        from components.cards.data_sheet import combined

        markdown, html = combined(summary["data_sheets"], summary["run_id"])
        Path(sheets[0].path).write_text(markdown, encoding="utf-8")
        Path(sheets[1].path).write_text(html, encoding="utf-8")
    gold.metadata.update({
        "lakehouse": summary["lakehouse"],
        "uri": summary["lakehouse"],
        "run_id": summary["run_id"],
        "published": summary["published"],
        "snapshots": summary["snapshots"],
        "gold_refs": {t: f"{t}@{summary['snapshots'][t]}" for t in gold_tables},
        "quarantine_reasons": summary["quarantine_reasons"],
        "ignored_files": summary["ignored_files"],
    })
    Path(gold.path).parent.mkdir(parents=True, exist_ok=True)
    Path(gold.path).write_text(
        "\n".join(f"{t}@{summary['snapshots'][t]}" for t in gold_tables) + "\n", encoding="utf-8"
    )
    for key in METRIC_KEYS:
        metrics.log_metric(key, float(summary[key]))
    metrics.log_metric("published", float(summary["published"]))
    if failure is not None:
        raise failure
    return summary
