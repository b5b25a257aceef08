"""Pluggable data contracts: which raw kinds the ETL reads, how each row is checked, what gold it builds.

The bronze -> silver -> gold machinery (file discovery, strict line checks with quarantine and
accounting, deduplication, snapshots, the quality gate) runs on a `Contract`. `etl.contract`
names one, found in the `rankops.contracts` entry-point group; `search` (below) is the search
ranking contract of `contract.py`. A contract states its raw kinds with their field tables
(`contract.FieldRule`, the same rules and reasons for every contract), its silver value ranges,
and its gold: the tables, their columns and pandera checks, and the function that builds them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from components.common import contract as C
from components.common import plugins
from components.common.plugins import Ref, resolve

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

QUARANTINE_TABLE = C.QUARANTINE_TABLE
FORMATS = {".jsonl": "jsonl", ".csv": "csv"}


@dataclass(frozen=True)
class KindSpec:
    """One kind of raw file: `<name>/*<suffix>` (JSON lines, or CSV with a header row)."""

    name: str
    suffix: str
    rules: tuple[C.FieldRule, ...]
    silver_columns: tuple[str, ...]  # the fields plus ids derived from URL (canonical_url, video_id) and query
    dedup_key: tuple[str, ...]  # equal key = one event; equal key + content = exact duplicate
    # A check across the typed fields of a valid row: (reason, detail naming the fields) or None.
    row_check: Callable[[dict[str, Any]], tuple[C.Reason, str] | None] | None = None

    def __post_init__(self) -> None:
        if self.suffix not in FORMATS:
            raise ValueError(f"kind {self.name!r}: suffix must be one of {', '.join(FORMATS)}, got {self.suffix!r}")
        names = [r.name for r in self.rules]
        unknown = [k for k in self.dedup_key if k not in names]
        if unknown:
            raise ValueError(f"kind {self.name!r}: dedup_key {unknown} is not among its fields {names}")

    @property
    def csv(self) -> bool:
        return self.suffix == ".csv"

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.rules)


@dataclass(frozen=True)
class Contract:
    """A data contract for the ETL machinery (see the module docstring)."""

    name: str
    kinds: tuple[KindSpec, ...]
    gold_schemas: dict[str, dict[str, str]]  # gold table -> {column: Spark SQL type}, in order
    build_gold: Ref  # ({kind: silver DataFrame}, settings) -> {gold table: DataFrame}
    gold_checks: Ref  # (max_null_share) -> {gold table: pandera DataFrameSchema}
    labels_table: str  # the gold table whose rows are the training set's entity rows
    silver_ranges: dict[str, dict[str, tuple[float | None, float | None]]] = field(default_factory=dict)
    silver_nullable: dict[str, frozenset[str]] = field(default_factory=dict)
    context_features: dict[str, float] = field(default_factory=dict)  # label columns a model takes, with defaults
    description: str = ""

    def kind(self, name: Any) -> KindSpec:
        for spec in self.kinds:
            if spec.name == str(name):
                return spec
        raise ValueError(f"contract {self.name!r} has no kind {str(name)!r} (kinds: {', '.join(self.kind_names)})")

    @property
    def kind_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.kinds)

    @property
    def csv_kinds(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.kinds if k.csv)

    @property
    def gold_tables(self) -> tuple[str, ...]:
        return tuple(self.gold_schemas)

    @property
    def bronze_tables(self) -> dict[str, str]:
        return {k.name: f"bronze/{k.name}" for k in self.kinds}

    @property
    def silver_tables(self) -> dict[str, str]:
        return {k.name: f"silver/{k.name}" for k in self.kinds}

    def layout(self) -> str:
        """The expected input layout, e.g. `<batch>/search_log/*.jsonl, videos/*.jsonl, judgements/*.csv`."""
        return "<batch>/" + ", ".join(f"{k.name}/*{k.suffix}" for k in self.kinds)

    def gold(self, silver: dict[str, DataFrame], settings: Any) -> dict[str, DataFrame]:
        return resolve(self.build_gold)(silver, settings)

    def checks(self, max_null_share: float) -> dict[str, Any]:
        return resolve(self.gold_checks)(max_null_share)


def search_gold(silver: dict[str, DataFrame], settings: Any) -> dict[str, DataFrame]:
    """The search contract's gold (`gold.to_gold`) with the ETL settings' parameters."""
    from components.etl.gold import to_gold

    cfg = settings.etl
    return to_gold(silver, eta=cfg.examination_eta, train=cfg.train_share, validation=cfg.validation_share)


def _search_kinds() -> tuple[KindSpec, ...]:
    from components.etl.impressions import IMPRESSION_KINDS

    offline = tuple(KindSpec(k.value, C.KIND_SUFFIX[k], C.RULES[k], C.SILVER_COLUMNS[k], C.DEDUP_KEY[k]) for k in C.Kind)
    return offline + IMPRESSION_KINDS


def _search() -> Contract:
    from components.etl.impressions import IMPRESSION_NULLABLE, IMPRESSION_RANGES
    from components.etl.quality import SILVER_NULLABLE, SILVER_RANGES

    return Contract(
        name="search",
        kinds=_search_kinds(),
        gold_schemas=C.GOLD_SCHEMAS,
        build_gold=search_gold,
        gold_checks="components.etl.quality:gold_schemas",
        labels_table=C.GOLD_LABELS,
        silver_ranges={**SILVER_RANGES, **IMPRESSION_RANGES},
        silver_nullable={t: frozenset(c) for t, c in {**SILVER_NULLABLE, **IMPRESSION_NULLABLE}.items()},
        description="Search logs, video catalogue and graded judgements -> ranking features and labels; "
                    "the online ranker's impressions and clicks -> served positions with their clicks.",
    )


SEARCH = _search()


def get_contract(name: str) -> Contract:
    """The contract registered as `name` (ValueError listing the registered ones otherwise)."""
    try:
        found = plugins.load_plugin(plugins.CONTRACTS, name, "data contract")
    except plugins.PluginError as exc:
        raise ValueError(str(exc)) from None
    if not isinstance(found, Contract):
        raise ValueError(f"data contract {name!r} is a {type(found).__name__}, not a Contract")
    return found


def contract_of(settings: Any) -> Contract:
    """The contract `settings.etl.contract` names."""
    return get_contract(settings.etl.contract)


def resolve_contract(contract: Contract | None) -> Contract:
    """`contract`, or the search contract (the default of every ETL function)."""
    return SEARCH if contract is None else contract
