"""The quality gate: declared expectations on silver and gold; a breach publishes nothing.

Why pandera on pandas, not pandera.pyspark: measured here, pandera.pyspark needed ~13 s for a
3-row frame (one Spark job per check) and reports no observed values. So gold tables (small,
one row per entity and active day) are validated directly with pandera's pandas backend, and
silver tables (large) through a profile computed in ONE Spark aggregation per table (rows,
null share and min/max per column) that a pandera schema then checks. Both give failure cases,
i.e. the observed values the report names.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.common.contract import (
    GOLD_LABELS,
    GOLD_QUERY,
    GOLD_QUERY_VIDEO,
    GOLD_SCHEMAS,
    GOLD_VIDEO,
    SPLITS,
)

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

# Declared value ranges of silver columns: (lower, upper), None = unbounded.
SILVER_RANGES: dict[str, dict[str, tuple[float | None, float | None]]] = {
    "silver/search_log": {"position": (1, None), "dwell_ms": (0, None)},
    "silver/videos": {"duration_s": (0, None)},
    "silver/judgements": {"label": (0, 3)},
}
SILVER_NULLABLE = {"silver/search_log": {"dwell_ms"}, "silver/videos": set(), "silver/judgements": set()}
SILVER_LINEAGE = {"batch_id", "source_file", "line_number"}


@dataclass
class Expectation:
    """One checked expectation and what was observed."""

    name: str
    table: str
    observed: Any
    threshold: Any
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def profile_silver(table: str, df: DataFrame, ranges: dict[str, tuple[float | None, float | None]] | None = None,
                   nullable: set[str] | frozenset[str] | None = None) -> pd.DataFrame:
    """Rows, null share and min/max of every column, in one Spark aggregation; `ranges` and
    `nullable` are the contract's (default: the search contract's declarations below)."""
    import pandas as pd
    from pyspark.sql import functions as F
    from pyspark.sql.types import NumericType

    cols = [f for f in df.schema.fields if f.name not in SILVER_LINEAGE]
    aggs = [F.count(F.lit(1)).alias("__rows")]
    for f in cols:
        aggs.append(F.sum(F.col(f.name).isNull().cast("long")).alias(f"{f.name}__nulls"))
        if isinstance(f.dataType, NumericType):
            aggs += [F.min(f.name).cast("double").alias(f"{f.name}__min"), F.max(f.name).cast("double").alias(f"{f.name}__max")]
    row = df.agg(*aggs).first().asDict()
    rows = int(row["__rows"])
    ranges = SILVER_RANGES.get(table, {}) if ranges is None else ranges
    nullable = SILVER_NULLABLE.get(table, set()) if nullable is None else nullable
    records = []
    for f in cols:
        lower, upper = ranges.get(f.name, (None, None))
        records.append({
            "table": table, "column": f.name, "rows": rows,
            "null_share": (row[f"{f.name}__nulls"] or 0) / rows if rows else 0.0,
            "required": f.name not in nullable,
            "min": row.get(f"{f.name}__min"), "max": row.get(f"{f.name}__max"),
            "lower": lower, "upper": upper,
        })
    return pd.DataFrame.from_records(records)


def check_silver_profile(profile: pd.DataFrame, max_null_share: float) -> list[Expectation]:
    """Null shares of required columns and declared value ranges, checked with pandera."""
    import pandera.pandas as pa

    schema = pa.DataFrameSchema(
        checks=[
            pa.Check(lambda d: ~d["required"] | (d["null_share"] <= max_null_share), name="null_share"),
            pa.Check(lambda d: d["lower"].isna() | d["min"].isna() | (d["min"] >= d["lower"]), name="min"),
            pa.Check(lambda d: d["upper"].isna() | d["max"].isna() | (d["max"] <= d["upper"]), name="max"),
        ],
        name="silver profile",
    )
    out = []
    for _column, check, index, _ in _failures(schema, profile):
        for i in index:
            table, col = profile.at[i, "table"], profile.at[i, "column"]
            observed = {"null_share": "null_share", "min": "min", "max": "max"}[check]
            threshold = max_null_share if check == "null_share" else profile.at[i, "lower" if check == "min" else "upper"]
            out.append(Expectation(f"{check}({col})", table, _plain(profile.at[i, observed]), _plain(threshold), False))
    tables = sorted(set(profile["table"]))
    failed_tables = {e.table for e in out}
    out += [Expectation("null_share+ranges", t, "all columns within bounds", max_null_share, True)
            for t in tables if t not in failed_tables]
    return out


def _col(dtype_checks: list, nullable_share: float, **kw):
    import pandera.pandas as pa

    checks = list(dtype_checks)
    checks.append(pa.Check(lambda s: s.isna().mean() <= nullable_share, name="null_share", ignore_na=False))
    return pa.Column(nullable=True, checks=checks, **kw)


def gold_schemas(max_null_share: float) -> dict[str, Any]:
    """The declared expectations of each gold table (value ranges, null shares, keys)."""
    import pandera.pandas as pa

    C = pa.Check  # noqa: N806
    n = max_null_share
    ids = [C.str_length(16, 16)]
    prob = [C.in_range(0.0, 1.0)]
    return {
        GOLD_QUERY: pa.DataFrameSchema({
            "query_id": _col(ids, n), "event_timestamp": _col([], n), "query_text": _col([C.str_length(min_value=1)], n),
            "query_num_tokens": _col([C.ge(1)], n), "query_impressions": _col([C.ge(1)], n),
            "query_clicks": _col([C.ge(0)], n), "query_ctr": _col(prob, n), "query_sessions": _col([C.ge(1)], n),
        }, unique=["query_id", "event_timestamp"], name=GOLD_QUERY),
        GOLD_VIDEO: pa.DataFrameSchema({
            "video_id": _col(ids, n), "event_timestamp": _col([], n), "canonical_url": _col([], n),
            "title": _col([], n), "description": _col([], n), "channel": _col([], n),
            "duration_s": _col([C.ge(0)], n), "video_age_days": _col([C.ge(0)], n), "tag_count": _col([C.ge(0)], n),
            "video_impressions": _col([C.ge(0)], n), "video_clicks": _col([C.ge(0)], n), "video_ctr": _col(prob, n),
        }, unique=["video_id", "event_timestamp"], name=GOLD_VIDEO),
        GOLD_QUERY_VIDEO: pa.DataFrameSchema({
            "query_id": _col(ids, n), "video_id": _col(ids, n), "event_timestamp": _col([], n),
            "qv_impressions": _col([C.ge(1)], n), "qv_clicks": _col([C.ge(0)], n), "qv_ctr": _col(prob, n),
            "qv_mean_position": _col([C.ge(1)], n), "qv_mean_dwell_ms": _col([C.ge(0)], n),
            "qv_debiased_ctr": _col([C.ge(0)], n),
        }, checks=[C(lambda d: d["qv_clicks"] <= d["qv_impressions"], name="clicks_le_impressions")],
            unique=["query_id", "video_id", "event_timestamp"], name=GOLD_QUERY_VIDEO),
        GOLD_LABELS: pa.DataFrameSchema({
            "query_id": _col(ids, n), "video_id": _col(ids, n), "event_timestamp": _col([], n),
            "query_text": _col([C.str_length(min_value=1)], n), "label": _col([C.isin([0, 1, 2, 3])], n),
            "split": _col([C.isin(list(SPLITS))], n),
        }, checks=[C(lambda d: d.groupby("query_id")["split"].transform("nunique") == 1, name="one_split_per_query")],
            unique=["query_id", "video_id"], name=GOLD_LABELS),
    }


def check_gold(table: str, frame: pd.DataFrame, schema_of_snapshot: list[dict[str, str]], max_null_share: float,
               *, declared: dict[str, str] | None = None, schema: Any = None) -> list[Expectation]:
    """Exact contract schema (names, order, types) plus the table's pandera expectations; `declared`
    columns and the pandera `schema` are the contract's (default: the search contract's)."""
    declared_cols = [{"name": k, "type": v} for k, v in (GOLD_SCHEMAS[table] if declared is None else declared).items()]
    out = [Expectation("schema", table, _schema_text(schema_of_snapshot), _schema_text(declared_cols),
                       schema_of_snapshot == declared_cols)]
    failures = _failures(gold_schemas(max_null_share)[table] if schema is None else schema, frame)
    for column, check, index, sample in failures:
        name = f"{check}({column})" if column else check
        observed = {"failing_rows": len(index) or len(sample)}
        observed.update({"examples": sample} if sample else {"rows": index[:5]})
        out.append(Expectation(name, table, observed, check, False))
    if not failures:
        out.append(Expectation("pandera", table, f"{len(frame)} rows, all checks passed", "-", True))
    return out


def _schema_text(schema: list[dict[str, str]]) -> str:
    return ", ".join(f"{c['name']}:{c['type']}" for c in schema)


def _failures(schema, frame: pd.DataFrame) -> list[tuple[str | None, str, list[int], list[Any]]]:
    """(column or None, check, failing row indexes, example values) per failed check (lazy)."""
    import pandera.errors as pe

    try:
        schema.validate(frame, lazy=True)
    except pe.SchemaErrors as exc:
        out = []
        cases = exc.failure_cases.copy()
        frame_wide = cases["schema_context"].astype(str) == "DataFrameSchema"
        cases["column"] = cases["column"].astype(object).where(~frame_wide, "")
        for (column, check), group in cases.groupby([cases["column"].fillna(""), cases["check"].astype(str)], sort=True):
            index = sorted({int(i) for i in group["index"].dropna().tolist()})
            sample = [] if not column else [_plain(v) for v in group["failure_case"].head(5).tolist()]
            out.append((column or None, str(check), index, sample))
        return out
    return []


def _plain(value: Any) -> Any:
    """JSON-friendly scalar."""
    if hasattr(value, "item"):
        try:
            return value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, float) and value != value:
        return None
    return value if isinstance(value, (int, float, str, bool, type(None))) else str(value)


def write_report(report_dir: Path, report: dict[str, Any]) -> tuple[Path, Path]:
    """quality.json and quality.md (a readable table of every expectation) under `report_dir`."""
    report_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = report_dir / "quality.json", report_dir / "quality.md"
    json_path.write_text(json.dumps(report, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    lines = [
        f"# ETL quality report `{report['run_id']}`",
        "",
        f"**{'PASSED: snapshots published' if report['passed'] else 'FAILED: nothing published'}**",
        "",
        "| expectation | table | observed | threshold | result |",
        "|---|---|---|---|---|",
    ]
    for e in sorted(report["expectations"], key=lambda e: (e["passed"], e["table"], e["name"])):
        lines.append(f"| {e['name']} | {e['table']} | {_md(e['observed'])} | {_md(e['threshold'])} | "
                     f"{'ok' if e['passed'] else '**FAILED**'} |")
    if report.get("file_problems"):
        lines += ["", "## File problems", ""] + [f"- `{p['path']}`: {p['problem']}" for p in report["file_problems"]]
    md_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return json_path, md_path


def _md(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else value
    return text.replace("|", "\\|")[:200]
