"""The legal values of each monitored column, and where that rule comes from.

A feature's domain is not guessed from its name. It is the gold contract's declared range (the
ETL quality gate's pandera checks in `components.etl.quality.gold_schemas`, the same rules that
stop a bad gold snapshot from being published) plus the value the feature path fills in when a
statistic is missing (the feature view's `default` tag, recorded in the training set's manifest:
`qv_mean_position` is 0 for a pair never shown, below the contract's 1). A debiased CTR may exceed
1, and its contract says only >= 0. A column that the contract does not cover falls back to the
reference's observed support, checked statistically (see `outside_support`), because a fresh
sample of the same distribution lands outside a finite sample's [min, max] now and then.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

# pandera check name -> (lower, upper, allowed values) read from the check's statistics
_BOUNDS = {
    "in_range": lambda s: (s["min_value"], s["max_value"], None),
    "greater_than_or_equal_to": lambda s: (s["min_value"], None, None),
    "less_than_or_equal_to": lambda s: (None, s["max_value"], None),
    "isin": lambda s: (None, None, tuple(sorted(s["allowed_values"]))),
}


@dataclass(frozen=True)
class Domain:
    """Legal values of one column: an interval or a set, plus the fill default; `source` says why."""

    column: str
    lower: float | None = None
    upper: float | None = None
    allowed: tuple[Any, ...] | None = None
    fill: float | None = None
    source: str = ""

    def rule(self) -> str:
        """The domain in words, e.g. ">= 1 or the fill default 0.0"."""
        if self.allowed is not None:
            text = f"in {list(self.allowed)}"
        elif self.lower is not None and self.upper is not None:
            text = f"in [{_num(self.lower)}, {_num(self.upper)}]"
        elif self.lower is not None:
            text = f">= {_num(self.lower)}"
        elif self.upper is not None:
            text = f"<= {_num(self.upper)}"
        else:
            text = "any value"
        return text if self.fill is None or self.admits_scalar(self.fill, fill=False) else \
            f"{text} or the fill default {_num(self.fill)}"

    def admits_scalar(self, value: float, *, fill: bool = True) -> bool:
        if fill and self.fill is not None and value == self.fill:
            return True
        if self.allowed is not None:
            return value in self.allowed
        return (self.lower is None or value >= self.lower) and (self.upper is None or value <= self.upper)

    def admits(self, values: pd.Series) -> pd.Series:
        """Element-wise: inside the domain (nulls count as inside: the null-share check owns them)."""
        ok = values.isna()
        if self.allowed is not None:
            ok |= values.isin(list(self.allowed))
        else:
            inside = values.notna()
            if self.lower is not None:
                inside &= values >= self.lower
            if self.upper is not None:
                inside &= values <= self.upper
            ok |= inside
        if self.fill is not None:
            ok |= values == self.fill
        return ok


def _num(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def contract_domains() -> dict[str, Domain]:
    """Column -> the gold contract's declared value rule (the ETL gate's checks), for numeric rules."""
    from components.etl.quality import gold_schemas

    out: dict[str, Domain] = {}
    for table, schema in gold_schemas(1.0).items():
        for name, column in schema.columns.items():
            for check in column.checks:
                bounds = _BOUNDS.get(check.name)
                if bounds is None:
                    continue
                lower, upper, allowed = bounds(check.statistics)
                if allowed is not None and not all(isinstance(v, int | float) for v in allowed):
                    continue  # a categorical rule (split): not a numeric feature
                out[name] = Domain(name, lower, upper, allowed,
                                   source=f"contract: {table} {check.name}({_args(check.statistics)}), "
                                          "the ETL quality gate")
    return out


def _args(stats: dict[str, Any]) -> str:
    keys = [k for k in ("min_value", "max_value", "allowed_values") if k in stats]
    return ", ".join(str(stats[k]) for k in keys)


def domains_for(columns: list[str], defaults: dict[str, float], defaults_from: str) -> dict[str, Domain]:
    """The contract domain of each column that has one, widened by its fill default."""
    contract = contract_domains()
    out = {}
    for col in columns:
        if col not in contract:
            continue
        dom = contract[col]
        fill = defaults.get(col)
        if fill is not None and not dom.admits_scalar(float(fill)):
            dom = Domain(col, dom.lower, dom.upper, dom.allowed, float(fill),
                         f"{dom.source}; fill default {_num(float(fill))} from {defaults_from}")
        out[col] = dom
    return out


@dataclass(frozen=True)
class SupportResult:
    """Current values outside the reference's observed [min, max], against what chance allows."""

    column: str
    lower: float
    upper: float
    outside: int
    values: int
    expected_share: float
    pvalue: float

    def rule(self) -> str:
        return f"[{_num(self.lower)}, {_num(self.upper)}]"


def outside_support(column: str, reference: np.ndarray, current: np.ndarray) -> SupportResult | None:
    """One-sided binomial test of the count of current values outside the reference's support.

    Exchangeability: a new draw from the reference's distribution falls outside the [min, max]
    of n reference draws with probability at most 2 / (n + 1). Far more than that is a breach.
    """
    import numpy as np
    from scipy.stats import binomtest

    ref = reference[~np.isnan(reference)]
    cur = current[~np.isnan(current)]
    if len(ref) == 0 or len(cur) == 0:
        return None
    lo, hi = float(ref.min()), float(ref.max())
    outside = int(((cur < lo) | (cur > hi)).sum())
    share = min(1.0, 2 / (len(ref) + 1))
    p = float(binomtest(outside, len(cur), share, alternative="greater").pvalue) if outside else 1.0
    return SupportResult(column, lo, hi, outside, len(cur), share, p if math.isfinite(p) else 1.0)
