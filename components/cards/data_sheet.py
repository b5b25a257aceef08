"""The data sheet of a gold snapshot: schema, null shares, quarantine reasons, lineage to the raw batches.

Written by the ETL beside the snapshot (`datasheet.md`, `.html`, `.json` in its folder) from what
the lakehouse already records: the manifest's schema, the Parquet footers' null counts (no scan),
the quarantine snapshot's reasons and the bronze manifests' file listings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from components.cards.render import Block, render_html, render_markdown

if TYPE_CHECKING:
    from components.common.snapshots import Snapshot, SnapshotStore

FILES = ("datasheet.md", "datasheet.html", "datasheet.json")


def null_counts(data_dir: str) -> dict[str, int]:
    """Nulls per column from the Parquet footers; a column chunk without statistics is counted by reading it."""
    import pyarrow.parquet as pq

    counts: dict[str, int] = {}
    for path in sorted(Path(data_dir).glob("*.parquet")):
        meta = pq.ParquetFile(path).metadata
        names = meta.schema.names
        for rg in range(meta.num_row_groups):
            group = meta.row_group(rg)
            for i in range(group.num_columns):
                col = group.column(i)
                name = col.path_in_schema.split(".")[0]
                stats = col.statistics
                if stats is not None and stats.has_null_count:
                    n = stats.null_count
                else:
                    n = pq.ParquetFile(path).read_row_group(rg, columns=[name]).column(0).null_count
                counts[name] = counts.get(name, 0) + int(n)
        for name in names:
            counts.setdefault(name, 0)
    return counts


def raw_batches(store: SnapshotStore, bronze_ref: str) -> list[dict[str, Any]]:
    bronze = store.resolve(bronze_ref)
    return [{"bronze": bronze.ref, "batch_id": f.get("batch_id"), "source_file": f.get("source_file"),
             "sha256": f.get("sha256"), "ingested_at": f.get("ingested_at")}
            for f in bronze.manifest.get("extra", {}).get("files", [])]


def sheet_facts(store: SnapshotStore, gold: Snapshot, quarantine: Snapshot | None) -> dict[str, Any]:
    rows = gold.row_count
    nulls = null_counts(gold.data_path)
    schema = [{"name": c["name"], "type": c["type"], "nulls": nulls.get(c["name"], 0),
               "null_share": (nulls.get(c["name"], 0) / rows) if rows else 0.0} for c in gold.manifest["schema"]]
    silver = []
    for _, ref in sorted((gold.manifest.get("parents") or {}).items()):
        snap = store.resolve(str(ref))
        bronze_refs = [str(v) for k, v in sorted((snap.manifest.get("parents") or {}).items()) if k.startswith("bronze/")]
        silver.append({"ref": snap.ref, "rows": snap.row_count, "bronze": bronze_refs,
                       "batches": [b for r in bronze_refs for b in raw_batches(store, r)]})
    extra = quarantine.manifest.get("extra", {}) if quarantine is not None else {}
    return {"table": gold.table, "ref": gold.ref, "rows": rows, "content_hash": gold.manifest.get("content_hash"),
            "created_at": gold.manifest.get("created_at"), "git_sha": gold.manifest.get("git_sha"), "schema": schema,
            "quarantine": {"ref": quarantine.ref if quarantine is not None else None,
                           "reasons": extra.get("reasons", {}), "outcomes": extra.get("outcomes", {})},
            "lineage": silver}


def sheet_blocks(facts: dict[str, Any]) -> list[Block]:
    q = facts["quarantine"]
    reasons = [[kind, reason, n] for kind, by in sorted(q["reasons"].items()) for reason, n in sorted(by.items())]
    outcomes = [[kind, o.get("silver"), o.get("quarantine"), o.get("duplicate")] for kind, o in sorted(q["outcomes"].items())]
    batches = [[s["ref"], b["batch_id"], b["source_file"], (b["sha256"] or "")[:12], b["ingested_at"]]
               for s in facts["lineage"] for b in s["batches"]]
    return [
        Block("Snapshot", header=["", "value"], rows=[["table", facts["table"]], ["snapshot", f"`{facts['ref']}`"],
                                                     ["rows", facts["rows"]], ["content hash", facts["content_hash"]],
                                                     ["created at", facts["created_at"]], ["code", facts["git_sha"]]]),
        Block("Schema and null shares", header=["column", "type", "nulls", "null share"],
              rows=[[c["name"], c["type"], c["nulls"], c["null_share"]] for c in facts["schema"]]),
        Block("Quarantine", text=[f"Rows of the silver build quarantined with their reason (`{q['ref']}`); "
                                  "nothing is dropped."],
              header=["kind", "reason", "rows"], rows=reasons),
        Block("Row outcomes per kind", header=["kind", "silver", "quarantined", "duplicates"], rows=outcomes),
        Block("Lineage", bullets=[f"`{s['ref']}` ({s['rows']} rows) from " + ", ".join(f"`{b}`" for b in s["bronze"])
                                  for s in facts["lineage"]]),
        Block("Raw batches", header=["silver", "batch", "file", "sha256", "ingested at"], rows=batches),
    ]


def title_of(facts: dict[str, Any]) -> str:
    return f"Data sheet: {facts['ref']}"


def write_data_sheet(store: SnapshotStore, gold: Snapshot, quarantine: Snapshot | None) -> dict[str, str]:
    """The sheet's files in the snapshot's folder; an existing sheet is kept (snapshots never change)."""
    out = Path(gold.path)
    paths = {"markdown": str(out / FILES[0]), "html": str(out / FILES[1]), "json": str(out / FILES[2])}
    if all((out / f).exists() for f in FILES):
        return paths
    facts = sheet_facts(store, gold, quarantine)
    blocks = sheet_blocks(facts)
    (out / FILES[2]).write_text(json.dumps(facts, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    (out / FILES[1]).write_text(render_html(title_of(facts), blocks), encoding="utf-8")
    (out / FILES[0]).write_text(render_markdown(title_of(facts), blocks), encoding="utf-8")
    return paths


def combined(sheets: dict[str, dict[str, str]], run_id: str) -> tuple[str, str]:
    """One Markdown and one HTML document holding the sheets of every gold table (the KFP artifacts)."""
    blocks: list[Block] = []
    for table, paths in sheets.items():
        facts = json.loads(Path(paths["json"]).read_text(encoding="utf-8"))
        for block in sheet_blocks(facts):
            block.heading = f"{table}: {block.heading}"
            blocks.append(block)
    title = f"Data sheets of the gold snapshots (ETL run {run_id})"
    return render_markdown(title, blocks), render_html(title, blocks)
