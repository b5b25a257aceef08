"""Data quality of a new batch: volume, required columns, nulls, value domains, and gold itself.

Every check names the rows or values that failed, the threshold they crossed and where the
threshold comes from: the profile (`monitoring.*`), the contract (the ETL gate's declared gold
expectations, widened by the feature defaults; see `domains.py`) or the reference's observed
support. `check_gold_batch` re-runs the ETL quality gate's expectations on gold snapshots.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from components.monitoring.domains import Domain
    from components.monitoring.settings import MonitoringSettings

EXAMPLES = 5  # failing rows named in a message
KEYS = ("query_id", "video_id")


@dataclass(frozen=True)
class QualityCheck:
    name: str
    passed: bool
    value: float | int | None
    threshold: float | int | str | None
    message: str
    source: str = ""
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def profile_key(profile: str, key: str) -> str:
    return f"profile {profile}: monitoring.{key}"


def examples_of(df: pd.DataFrame, column: str, rows: pd.Index) -> list[dict[str, Any]]:
    """The first failing rows: row number in the window, entity keys and the value."""
    out = []
    for i in list(rows[:EXAMPLES]):
        item = {"row": int(i), **{k: str(df.at[i, k]) for k in KEYS if k in df.columns}}
        value = df.at[i, column]
        item["value"] = None if value != value else (value.item() if hasattr(value, "item") else value)
        out.append(item)
    return out


def describe(examples: list[dict[str, Any]]) -> str:
    """'row 3 (query_id a1, video_id b2) = 0.5, ...'"""
    parts = []
    for e in examples:
        keys = ", ".join(f"{k} {e[k]}" for k in KEYS if k in e)
        parts.append(f"row {e['row']}{f' ({keys})' if keys else ''} = {e['value']}")
    return ", ".join(parts)


def check_domains(df: pd.DataFrame, domains: dict[str, Domain]) -> list[QualityCheck]:
    """One check per column with a declared domain (pandera: failure cases carry the rows)."""
    import pandera.errors as pe
    import pandera.pandas as pa

    cols = [c for c in domains if c in df.columns]
    schema = pa.DataFrameSchema({c: pa.Column(checks=pa.Check(domains[c].admits, name=domains[c].rule()),
                                              nullable=True) for c in cols}, strict=False)
    failed: dict[str, pd.Index] = {}
    try:
        schema.validate(df[cols], lazy=True)
    except pe.SchemaErrors as exc:
        import pandas as pd

        cases = exc.failure_cases.dropna(subset=["index"])
        for col, group in cases.groupby("column", sort=False):
            failed[str(col)] = pd.Index(sorted({int(i) for i in group["index"]}))
    out = []
    for c in cols:
        dom, rows = domains[c], failed.get(c)
        if rows is None:
            out.append(QualityCheck(f"value_range({c})", True, 0, dom.rule(),
                                    f"{c}: all {len(df)} values {dom.rule()} ({dom.source})", dom.source))
            continue
        ex = examples_of(df, c, rows)
        out.append(QualityCheck(f"value_range({c})", False, len(rows), dom.rule(),
                                f"{c}: {len(rows)} of {len(df)} rows outside {dom.rule()} ({dom.source}): {describe(ex)}",
                                dom.source, ex))
    return out


def check_support(reference: pd.DataFrame, current: pd.DataFrame, columns: list[str], cfg: MonitoringSettings,
                  profile: str) -> list[QualityCheck]:
    """Columns without a contract domain: current values outside the reference's observed support."""
    from components.monitoring.domains import outside_support
    from components.monitoring.drift import entity_values

    out = []
    for c in columns:
        if c not in reference.columns or c not in current.columns:
            continue
        res = outside_support(c, entity_values(reference, c).to_numpy(dtype="float64"),
                              entity_values(current, c).to_numpy(dtype="float64"))
        if res is None:
            continue
        source = f"reference's observed support; p-value threshold from {profile_key(profile, 'support_pvalue_threshold')}"
        passed = res.pvalue >= cfg.support_pvalue_threshold
        head = (f"{c}: {res.outside} of {res.values} values outside the reference's observed support {res.rule()} "
                f"(chance allows {res.expected_share:.2%}; binomial p={res.pvalue:.3g}")
        if passed:
            out.append(QualityCheck(f"support({c})", True, res.outside, res.rule(),
                                    f"{head} >= {cfg.support_pvalue_threshold})", source))
            continue
        values = current[c].astype("float64")
        rows = current.index[(values < res.lower) | (values > res.upper)]
        ex = examples_of(current, c, rows)
        out.append(QualityCheck(f"support({c})", False, res.outside, res.rule(),
                                f"{head} < {cfg.support_pvalue_threshold}, {source}): {describe(ex)}", source, ex))
    return out


def check_gold_batch(settings, snapshots: dict[str, str] | None = None) -> tuple[list[QualityCheck], list[str]]:
    """The ETL quality gate's own expectations (components.etl.quality) on gold snapshots.

    `snapshots` (table -> id) pins them, as a re-check of a recorded breach does; by default the
    latest of each table. Returns the checks and the refs checked.
    """
    from components.common.contract import GOLD_TABLES
    from components.common.snapshots import SnapshotNotFound, SnapshotStore
    from components.etl.quality import check_gold

    lake = SnapshotStore(settings.lakehouse)
    out, refs = [], []
    for table in GOLD_TABLES:
        try:
            snap = lake.get(table, snapshots[table]) if snapshots and table in snapshots else lake.latest(table)
        except SnapshotNotFound:
            continue
        refs.append(snap.ref)
        for exp in check_gold(table, SnapshotStore.read_pandas(snap), snap.manifest["schema"],
                              settings.etl.max_null_share):
            if exp.name == "schema":  # enforced by the gate at publish time; values are what drift
                continue
            observed = exp.observed if isinstance(exp.observed, dict) else {}
            ex = [{"row": r} for r in observed.get("rows", [])] or [{"value": v} for v in observed.get("examples", [])]
            if exp.passed:
                message = f"{snap.ref}: {exp.observed}"
            else:
                what = f"values {observed['examples']}" if "examples" in observed else f"rows {observed.get('rows')}"
                message = (f"{snap.ref} {exp.name}: {observed.get('failing_rows')} failing row(s), {what} "
                           f"(threshold {exp.threshold} from the contract: the ETL quality gate's expectation)")
            out.append(QualityCheck(f"gold:{snap.ref}:{exp.name}", bool(exp.passed), observed.get("failing_rows", 0),
                                    str(exp.threshold), message, "contract: components/etl/quality.py gold_schemas", ex))
    return out, refs


def check_quality(df: pd.DataFrame, required: list[str], cfg: MonitoringSettings, *, domains: dict[str, Domain],
                  profile: str, reference: pd.DataFrame | None = None,
                  unbounded: list[str] | None = None) -> list[QualityCheck]:
    """Every check on the current batch; a failed one is a data-quality breach.

    `required`: the columns the reference manifest lists (what the model reads); `unbounded`:
    numeric columns without a contract domain, checked against the reference's support.
    """
    rows = len(df)
    src = profile_key(profile, "min_rows")
    checks = [QualityCheck("row_count", rows >= cfg.min_rows, rows, cfg.min_rows,
                           f"{rows} rows {'>=' if rows >= cfg.min_rows else '<'} {cfg.min_rows} ({src})", src)]
    missing = [c for c in required if c not in df.columns]
    checks.append(QualityCheck("required_columns", not missing, len(missing), 0,
                               f"missing columns {missing}, listed by the reference manifest" if missing
                               else f"all {len(required)} columns the reference manifest lists are present",
                               "reference manifest (features, text_columns)"))
    present = [c for c in required if c in df.columns]
    if rows and present:
        src = profile_key(profile, "max_null_share")
        shares = df[present].isna().mean()
        over = [c for c in present if shares[c] > cfg.max_null_share]
        if over:
            parts = []
            for c in over:
                nulls = df.index[df[c].isna()]
                parts.append(f"{c}: {len(nulls)} of {rows} rows null ({shares[c]:.3f} > {cfg.max_null_share}), "
                             f"rows {[int(i) for i in nulls[:EXAMPLES]]}")
            message = f"{'; '.join(parts)} ({src})"
        else:
            message = f"highest null share {shares.max():.3f} in {shares.idxmax()} (<= {cfg.max_null_share}, {src})"
        checks.append(QualityCheck("null_share", not over, round(float(shares.max()), 6), cfg.max_null_share,
                                   message, src))
    checks += check_domains(df, {c: d for c, d in domains.items() if c in present})
    if reference is not None and unbounded:
        checks += check_support(reference, df, [c for c in unbounded if c in present], cfg, profile)
    return checks
