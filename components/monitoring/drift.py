"""Feature and score drift between a reference and a current frame.

Numeric columns: PSI on the reference's quantile bins plus the two-sample KS test (scipy).
Text columns become categorical statistics (length bucket, token count) compared with a
chi-square test, because raw text has no distribution a PSI could see.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

LENGTH_BINS = [-1, 0, 10, 20, 40, 80, 160, 10**9]
LENGTH_LABELS = ["0", "1-10", "11-20", "21-40", "41-80", "81-160", "161+"]
EPS = 1e-4


@dataclass(frozen=True)
class DriftResult:
    """One column's drift statistics; `drifted` applies the profile's thresholds."""

    column: str
    kind: str  # numeric | categorical
    psi: float | None
    ks_pvalue: float | None
    chi2_pvalue: float | None
    drifted: bool
    reference_mean: float | None = None
    current_mean: float | None = None
    unit: str = "row"  # what one tested value is: query, video, pair or row

    def to_dict(self) -> dict:
        return asdict(self)


def psi(reference, current, bins: int = 10) -> float:
    """Population stability index on the reference's quantile bins (empty bins floored at EPS).

    A value holding more than one bin's share of the reference (the zeros of a click-through rate,
    a constant) gets a bin of its own and the other values share the quantile bins. Quantile edges
    alone collapse on such a value: a feature that is 95 % zeros fell into one bin spanning
    everything, and its PSI was 0 whatever the current window held.
    """
    import numpy as np

    ref = np.asarray(reference, dtype="float64")
    cur = np.asarray(current, dtype="float64")
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if len(ref) == 0 or len(cur) == 0:
        return 0.0
    values, counts = np.unique(ref, return_counts=True)
    atoms = values[counts * bins > len(ref)]
    rest_ref, rest_cur = ref[~np.isin(ref, atoms)], cur[~np.isin(cur, atoms)]
    p = [np.mean(ref == a) for a in atoms]
    q = [np.mean(cur == a) for a in atoms]
    if len(rest_ref) == 0:  # every reference value is an atom: the rest is one bin
        p.append(0.0)
        q.append(len(rest_cur) / len(cur))
    else:
        k = max(1, round(bins * len(rest_ref) / len(ref)))
        edges = np.unique(np.quantile(rest_ref, np.linspace(0, 1, k + 1)))
        edges = np.concatenate(([-np.inf], edges[1:-1], [np.inf]))
        p += list(np.histogram(rest_ref, edges)[0] / len(ref))
        q += list(np.histogram(rest_cur, edges)[0] / len(cur))
    p, q = np.maximum(np.array(p), EPS), np.maximum(np.array(q), EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def ks_pvalue(reference, current) -> float:
    import numpy as np
    from scipy.stats import ks_2samp

    ref = np.asarray(reference, dtype="float64")
    cur = np.asarray(current, dtype="float64")
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    if len(ref) == 0 or len(cur) == 0:
        return 1.0
    return float(ks_2samp(ref, cur).pvalue)


def chi2_pvalue(reference: pd.Series, current: pd.Series) -> float:
    """Chi-square test of category shares (categories from both sides)."""
    import numpy as np
    from scipy.stats import chi2_contingency

    cats = sorted(set(reference.astype(str)) | set(current.astype(str)))
    if len(cats) < 2:
        return 1.0
    table = np.array([[int((s.astype(str) == c).sum()) for c in cats] for s in (reference, current)])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 1.0
    return float(chi2_contingency(table).pvalue)


def text_statistics(df: pd.DataFrame, text_columns: list[str]) -> pd.DataFrame:
    """Categorical statistics of each text column: `<col>_len` bucket and `<col>_tokens` (1..5+)."""
    import pandas as pd

    out = pd.DataFrame(index=df.index)
    for col in text_columns:
        if col not in df.columns:
            continue
        text = df[col].fillna("").astype(str)
        out[f"{col}_len"] = pd.cut(text.str.len(), LENGTH_BINS, labels=LENGTH_LABELS).astype(str)
        tokens = text.str.split().str.len().clip(upper=5)
        out[f"{col}_tokens"] = tokens.astype(int).astype(str).replace("5", "5+")
    return out


def numeric_drift(column: str, reference, current, *, psi_threshold: float, ks_threshold: float,
                  unit: str = "row") -> DriftResult:
    """Drifted when PSI is over its threshold AND KS rejects sameness (KS alone flags tiny shifts on big data)."""
    import numpy as np

    value, p = psi(reference, current), ks_pvalue(reference, current)
    return DriftResult(column, "numeric", round(value, 6), p, None, bool(value > psi_threshold and p < ks_threshold),
                       float(np.nanmean(reference)) if len(reference) else None,
                       float(np.nanmean(current)) if len(current) else None, unit)


def categorical_drift(column: str, reference: pd.Series, current: pd.Series, *, chi2_threshold: float,
                      unit: str = "row") -> DriftResult:
    p = chi2_pvalue(reference, current)
    return DriftResult(column, "categorical", None, None, p, bool(p < chi2_threshold), unit=unit)


def entity_keys(column: str) -> tuple[list[str], str]:
    """(key columns, unit) of the entity a column describes, from the gold table it comes from.

    A query feature repeats on each of the query's candidate rows; testing the repeated rows
    would count one query ten times and make the tests see drift in noise. Text statistics
    (`title_len`) belong to their text column's entity; anything else is tested per row.
    """
    from components.common.contract import GOLD_QUERY, GOLD_QUERY_VIDEO, GOLD_SCHEMAS, GOLD_VIDEO

    base = column.removesuffix("_len").removesuffix("_tokens") if column.endswith(("_len", "_tokens")) else column
    for name in (column, base):
        for table, keys, unit in ((GOLD_QUERY, ["query_id"], "query"), (GOLD_VIDEO, ["video_id"], "video"),
                                  (GOLD_QUERY_VIDEO, ["query_id", "video_id"], "pair")):
            if name in GOLD_SCHEMAS[table] and name not in keys:
                return keys, unit
    return [], "row"


def entity_values(df: pd.DataFrame, column: str) -> pd.Series:
    """A column's distinct values per entity (query, video or pair); per row when it has none.

    Point-in-time rows may give one query two values (before and after a day's statistics):
    both count, each once.
    """
    keys, _ = entity_keys(column)
    if keys and all(k in df.columns for k in keys):
        return df[keys + [column]].drop_duplicates()[column]
    return df[column]


def entity_frame(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Each column's `entity_values`, NaN-padded to one length: the frame a drift test sees.

    Evidently's report gets these frames, so its per-column flags are computed on exactly the
    values the verdict tested (it drops the padding like any null).
    """
    import pandas as pd

    series = {c: entity_values(df, c).reset_index(drop=True) for c in columns}
    return pd.DataFrame(series) if series else pd.DataFrame(index=df.index[:0])


def feature_drift(reference: pd.DataFrame, current: pd.DataFrame, *, numeric: list[str], text: list[str],
                  psi_threshold: float, ks_threshold: float, chi2_threshold: float) -> list[DriftResult]:
    """Drift of every numeric feature and of the text statistics (per entity), in column order."""
    results = [numeric_drift(c, entity_values(reference, c).to_numpy(dtype="float64"),
                             entity_values(current, c).to_numpy(dtype="float64"),
                             psi_threshold=psi_threshold, ks_threshold=ks_threshold, unit=entity_keys(c)[1])
               for c in numeric if c in reference.columns and c in current.columns]
    ref_stats, cur_stats = with_text_statistics(reference, text), with_text_statistics(current, text)
    for col in text_statistic_columns(ref_stats, cur_stats, text):
        results.append(categorical_drift(col, entity_values(ref_stats, col), entity_values(cur_stats, col),
                                         chi2_threshold=chi2_threshold, unit=entity_keys(col)[1]))
    return results


def with_text_statistics(df: pd.DataFrame, text: list[str]) -> pd.DataFrame:
    """The text statistics next to the entity keys they belong to."""
    keys = [k for k in ("query_id", "video_id") if k in df.columns]
    return text_statistics(df, text).join(df[keys])


def text_statistic_columns(ref_stats: pd.DataFrame, cur_stats: pd.DataFrame, text: list[str]) -> list[str]:
    return [f"{c}{suffix}" for c in text for suffix in ("_len", "_tokens")
            if f"{c}{suffix}" in ref_stats.columns and f"{c}{suffix}" in cur_stats.columns]
