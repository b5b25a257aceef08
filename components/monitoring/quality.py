"""Data quality of a new batch: volume, nulls, required columns and value ranges (pandera).

Range rules on the scored window follow the gold contract's column meanings (rates in [0,1],
counts and durations non-negative, labels 0..3: defaults-filled rows are legal there), and
`check_gold_batch` re-runs the ETL quality gate's declared expectations on the gold batch itself.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from components.monitoring.settings import MonitoringSettings


@dataclass(frozen=True)
class QualityCheck:
    name: str
    passed: bool
    value: float | int | None
    threshold: float | int | None
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def range_rule(column: str) -> tuple[float | None, float | None] | None:
    """(min, max) implied by a column's name in the gold contract, or None when it has no rule."""
    if column.endswith("_ctr"):
        return 0.0, 1.0
    if column == "label":
        return 0.0, 3.0
    if column.endswith("_position"):
        return 1.0, None
    if column.endswith(("_impressions", "_clicks", "_sessions", "_count", "_tokens", "_ms", "duration_s",
                        "_days", "num_tokens")):
        return 0.0, None
    return None


def value_schema(columns: list[str]):
    """A pandera schema with the range rules of `columns` (nulls allowed: counted separately)."""
    import pandera.pandas as pa

    checks = {}
    for col in columns:
        rule = range_rule(col)
        if rule is None:
            continue
        lo, hi = rule
        if lo is not None and hi is not None:
            check = pa.Check.in_range(lo, hi)
        elif lo is not None:
            check = pa.Check.ge(lo)
        else:
            check = pa.Check.le(hi)
        checks[col] = pa.Column(float, check, nullable=True, coerce=True)
    return pa.DataFrameSchema(checks, strict=False)


def check_gold_batch(settings) -> list[QualityCheck]:
    """The ETL quality gate's own expectations (components.etl.quality) on the latest gold snapshots."""
    from components.common.snapshots import SnapshotNotFound, SnapshotStore
    from components.etl.contract import GOLD_TABLES
    from components.etl.quality import check_gold

    lake = SnapshotStore(settings.lakehouse)
    out = []
    for table in GOLD_TABLES:
        try:
            snap = lake.latest(table)
        except SnapshotNotFound:
            continue
        for exp in check_gold(table, SnapshotStore.read_pandas(snap), snap.manifest["schema"],
                              settings.etl.max_null_share):
            if exp.name == "schema":  # enforced by the gate at publish time; values are what drift
                continue
            out.append(QualityCheck(f"gold:{snap.ref}:{exp.name}", bool(exp.passed), None, None,
                                    f"observed {exp.observed}, expected {exp.threshold}"))
    return out


def check_quality(df: pd.DataFrame, required: list[str], cfg: MonitoringSettings) -> list[QualityCheck]:
    """Every check on the current batch; a failed one is a data-quality breach."""
    import pandera.errors as pe

    checks = [QualityCheck("row_count", len(df) >= cfg.min_rows, len(df), cfg.min_rows,
                           f"{len(df)} rows (minimum {cfg.min_rows})")]
    missing = [c for c in required if c not in df.columns]
    checks.append(QualityCheck("required_columns", not missing, len(missing), 0,
                               f"missing columns: {missing}" if missing else "all required columns present"))
    present = [c for c in required if c in df.columns]
    if len(df) and present:
        shares = df[present].isna().mean()
        worst = shares.idxmax()
        checks.append(QualityCheck("null_share", bool(shares.max() <= cfg.max_null_share), round(float(shares.max()), 6),
                                   cfg.max_null_share, f"highest null share {shares.max():.3f} in {worst}"))
    try:
        value_schema(present).validate(df[present], lazy=True)
        checks.append(QualityCheck("value_ranges", True, 0, 0, "all values inside their ranges"))
    except pe.SchemaErrors as exc:
        cases = exc.failure_cases
        cols = sorted(set(cases["column"].dropna().astype(str)))
        checks.append(QualityCheck("value_ranges", False, len(cases), 0,
                                   f"{len(cases)} value(s) out of range in {cols}"))
    return checks
