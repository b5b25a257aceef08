"""ETL benchmark: raw files -> bronze -> silver -> gold, Spark (run_etl) vs a DuckDB reference.

    .venv/bin/python benchmarks/etl.py --sizes 1000000,4000000     # the targets
    .venv/bin/python benchmarks/etl.py --sizes 20000 --days 2      # a quick look

Data sets are generated once per size under --workdir and reused. Spark is timed through
`run_etl` (bronze ingest, silver, gold, snapshots, gate) on a fresh lakehouse, with its session
already started; DuckDB runs the same transform single-node in SQL (lines read as text,
JSON parsed with explicit paths, the same validation, dedupe, canonical ids and daily
cumulative gold tables, written to Parquet). Prints a table and the ratios vs the targets:
Spark <= 3x DuckDB wall time, and 4x the rows in <= 4.4x the time. A figure, not a test.

    .venv/bin/python benchmarks/etl.py --sizes 1000000,4000000,16000000 --executors 1,2 --skip-duckdb

`--executors` is the scaling table instead: each size on `local-cluster[N,1,MEM]` (N executor
JVMs of one core each, as executor pods would be) for every N, rows/s and the speed-up over one
executor. On this 2-core machine two one-core executors are the ceiling; docs/scaleout.md
extrapolates to a day of real traffic.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

URL_RE = r"^([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$"
TS_ZONE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:?[0-9]{2})$"


def ensure_data(workdir: Path, impressions: int, days: int, dirty: float) -> Path:
    from components.datagen.generate import generate_dataset

    out = workdir / f"raw-{impressions}-{days}-{dirty}"
    if not (out / "_generator.json").exists():
        t = time.perf_counter()
        generate_dataset(out, impressions=impressions, days=days, seed=7, dirty_share=dirty)
        print(f"  generated {impressions:,} impressions in {time.perf_counter() - t:.1f} s -> {out}", flush=True)
    return out


def run_spark(spark, raw: Path, home: Path) -> tuple[float, dict]:
    from components.common.config import load_settings
    from components.etl.run import run_etl

    shutil.rmtree(home, ignore_errors=True)
    settings = load_settings("local", environ={"RANKOPS_HOME": str(home)})
    phases: dict[str, float] = {}
    last = [time.perf_counter(), "start"]

    def progress(msg: str) -> None:
        now = time.perf_counter()
        phases[last[1]] = now - last[0]
        last[:] = [now, msg]

    t = time.perf_counter()
    summary = run_etl(settings, raw, spark, progress=progress, raise_on_failure=False)
    wall = time.perf_counter() - t
    phases[last[1]] = time.perf_counter() - last[0]
    summary["phases"] = {k: round(v, 1) for k, v in phases.items() if k != "start"}
    return wall, summary


def canonical_sql(url: str) -> str:
    u = f"trim({url}, ' \t\r\n')"
    host = (f"regexp_replace(regexp_replace(lower(regexp_replace(regexp_extract({u}, '{URL_RE}', 2), '^.*@', '')), "
            f"':[0-9]*$', ''), '^www\\.', '')")
    path = f"regexp_replace(regexp_extract({u}, '{URL_RE}', 3), '/+$', '')"
    params = (f"list_sort(list_filter(string_split(regexp_extract({u}, '{URL_RE}', 4)[2:], '&'), "
              f"lambda p: p <> '' AND NOT starts_with(lower(split_part(p, '=', 1)), 'utm_') AND lower(split_part(p, '=', 1)) "
              f"NOT IN ('fbclid','gclid','dclid','msclkid','yclid','igshid','si','feature','mc_cid','mc_eid','_ga','ref_src')))")
    return (f"CASE WHEN regexp_matches({u}, '{URL_RE}') AND lower(regexp_extract({u}, '{URL_RE}', 1)) IN ('http','https') "
            f"AND {host} <> '' THEN {host} || {path} || CASE WHEN len({params}) > 0 THEN '?' || "
            f"array_to_string({params}, '&') ELSE '' END END")


def run_duckdb(raw: Path, out: Path, threads: int) -> float:
    import duckdb

    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    t = time.perf_counter()
    for kind in ("search_log", "videos", "judgements"):
        files = sorted(str(p) for p in raw.rglob(f"{kind}/*.{'csv' if kind == 'judgements' else 'jsonl'}"))
        # Lines as one text column (no quoting, a delimiter that never occurs). DuckDB cannot keep
        # non-UTF-8 lines here (ignore_errors drops them) and its line order is the read order.
        con.execute(f"""
            CREATE OR REPLACE TABLE bronze_{kind} AS
            SELECT filename AS source_file, row_number() OVER (PARTITION BY filename) AS line_number, raw
            FROM read_csv({files!r}, columns={{'raw': 'VARCHAR'}}, header=false, delim='{chr(1)}', quote='', escape='', strict_mode=false,
                          filename=true, ignore_errors=true, max_line_size=4000000, new_line='\\n')""")
        con.execute(f"COPY bronze_{kind} TO '{out}/bronze_{kind}.parquet' (FORMAT parquet)")
    ts_ok = f"regexp_matches(j->>'$.ts', '{TS_ZONE}') AND try_cast(j->>'$.ts' AS TIMESTAMPTZ) IS NOT NULL"
    con.execute(f"""
        CREATE OR REPLACE TABLE checked AS
        WITH p AS (SELECT *, CASE WHEN json_valid(raw) THEN raw::JSON END AS j FROM bronze_search_log),
        t AS (SELECT *, CASE
            WHEN j IS NULL THEN 'malformed_json'
            WHEN json_type(j) <> 'OBJECT' THEN 'not_an_object'
            WHEN json_type(j, '$.event_id') IS NULL OR json_type(j, '$.ts') IS NULL OR json_type(j, '$.session_id') IS NULL
              OR json_type(j, '$.query') IS NULL OR json_type(j, '$.video_url') IS NULL OR json_type(j, '$.position') IS NULL
              OR json_type(j, '$.clicked') IS NULL OR json_type(j, '$.dwell_ms') IS NULL THEN 'missing_field'
            WHEN json_type(j, '$.event_id') = 'NULL' OR json_type(j, '$.ts') = 'NULL' OR json_type(j, '$.query') = 'NULL'
              OR json_type(j, '$.session_id') = 'NULL' OR json_type(j, '$.video_url') = 'NULL'
              OR json_type(j, '$.position') = 'NULL' OR json_type(j, '$.clicked') = 'NULL' THEN 'null_field'
            WHEN json_type(j, '$.position') NOT IN ('BIGINT', 'UBIGINT') OR json_type(j, '$.clicked') <> 'BOOLEAN'
              OR json_type(j, '$.dwell_ms') NOT IN ('BIGINT', 'UBIGINT', 'NULL') THEN 'wrong_type'
            WHEN length(j->>'$.query') > 100000 THEN 'field_too_long'
            WHEN NOT ({ts_ok}) THEN 'invalid_timestamp'
            WHEN ({canonical_sql("(j->>'$.video_url')")}) IS NULL THEN 'invalid_url'
            WHEN try_cast(j->>'$.position' AS BIGINT) < 1 OR try_cast(j->>'$.dwell_ms' AS BIGINT) < 0 THEN 'out_of_range'
            WHEN trim(regexp_replace(lower(j->>'$.query'), '\\s+', ' ', 'g')) = '' THEN 'empty_query'
            END AS reason FROM p)
        SELECT source_file, line_number, raw, reason, j->>'$.event_id' AS event_id,
               try_cast(j->>'$.ts' AS TIMESTAMPTZ) AS ts, j->>'$.session_id' AS session_id,
               trim(regexp_replace(lower(nfc_normalize(j->>'$.query')), '\\s+', ' ', 'g')) AS query_norm,
               {canonical_sql("(j->>'$.video_url')")} AS canonical_url,
               try_cast(j->>'$.position' AS INT) AS position, try_cast(j->>'$.clicked' AS BOOLEAN) AS clicked,
               try_cast(j->>'$.dwell_ms' AS BIGINT) AS dwell_ms
        FROM t""")
    con.execute("""
        CREATE OR REPLACE TABLE classified AS
        SELECT *, count(DISTINCT hash(ts, session_id, query_norm, canonical_url, position, clicked, dwell_ms))
                    OVER (PARTITION BY event_id) AS n_versions,
               row_number() OVER (PARTITION BY event_id ORDER BY source_file, line_number) AS rn
        FROM checked WHERE reason IS NULL""")
    con.execute(f"""
        CREATE OR REPLACE TABLE silver AS
        SELECT * EXCLUDE (raw, reason, n_versions, rn), substr(sha1(query_norm), 1, 16) AS query_id,
               substr(sha1(canonical_url), 1, 16) AS video_id, CAST(ts AS DATE) AS day
        FROM classified WHERE n_versions = 1 AND rn = 1;
        COPY silver TO '{out}/silver_search_log.parquet' (FORMAT parquet);
        COPY (SELECT source_file, line_number, raw, reason FROM checked WHERE reason IS NOT NULL
              UNION ALL SELECT source_file, line_number, raw, 'conflicting_duplicate' FROM classified WHERE n_versions > 1)
          TO '{out}/quarantine.parquet' (FORMAT parquet);
        COPY (SELECT query_id, day, sum(count(*)) OVER w AS impressions, sum(sum(clicked::INT)) OVER w AS clicks,
                     max(query_norm) AS query_text
              FROM silver GROUP BY query_id, day WINDOW w AS (PARTITION BY query_id ORDER BY day))
          TO '{out}/gold_query.parquet' (FORMAT parquet);
        COPY (SELECT query_id, video_id, day, sum(count(*)) OVER w AS impressions, sum(sum(clicked::INT)) OVER w AS clicks,
                     sum(sum(position)) OVER w / sum(count(*)) OVER w AS mean_position,
                     sum(sum(dwell_ms)) OVER w / nullif(sum(count(dwell_ms)) OVER w, 0) AS mean_dwell,
                     sum(sum(clicked::INT)) OVER w / sum(sum(1.0 / position)) OVER w AS debiased_ctr
              FROM silver GROUP BY query_id, video_id, day WINDOW w AS (PARTITION BY query_id, video_id ORDER BY day))
          TO '{out}/gold_query_video.parquet' (FORMAT parquet);
        COPY (SELECT video_id, day, sum(count(*)) OVER w AS impressions, sum(sum(clicked::INT)) OVER w AS clicks
              FROM silver GROUP BY video_id, day WINDOW w AS (PARTITION BY video_id ORDER BY day))
          TO '{out}/gold_video_activity.parquet' (FORMAT parquet);
    """)
    con.execute(f"""
        COPY (WITH v AS (SELECT CASE WHEN json_valid(raw) THEN raw::JSON END AS j FROM bronze_videos)
              SELECT substr(sha1({canonical_sql("(j->>'$.video_url')")}), 1, 16) AS video_id, j->>'$.title' AS title,
                     j->>'$.description' AS description, try_cast(j->>'$.duration_s' AS DOUBLE) AS duration_s,
                     json_array_length(j, '$.tags') AS tag_count
              FROM v WHERE j IS NOT NULL AND json_type(j) = 'OBJECT')
          TO '{out}/gold_video.parquet' (FORMAT parquet);
        COPY (WITH c AS (SELECT string_split(raw, ',') AS f FROM bronze_judgements WHERE line_number > 1)
              SELECT substr(sha1(trim(regexp_replace(lower(f[1]), '\\s+', ' ', 'g'))), 1, 16) AS query_id,
                     substr(sha1({canonical_sql('f[2]')}), 1, 16) AS video_id,
                     round(avg(try_cast(f[3] AS INT)))::INT AS label
              FROM c WHERE len(f) = 5 AND try_cast(f[3] AS INT) BETWEEN 0 AND 3 GROUP BY ALL)
          TO '{out}/gold_labels.parquet' (FORMAT parquet);
    """)
    return time.perf_counter() - t


def scaling_table(args, sizes: list[int], executor_counts: list[int]) -> None:
    """rows/s of run_etl per (impressions, executors), one fresh local-cluster session per executor count."""
    from components.common.config import load_settings
    from components.common.spark import get_spark

    args.workdir.mkdir(parents=True, exist_ok=True)
    results: dict[tuple[int, int], tuple[int, float]] = {}
    for e in executor_counts:
        master = f"local-cluster[{e},1,{args.executor_memory_mb}]"
        spark = get_spark(load_settings("local", environ={"RANKOPS_HOME": str(args.workdir / "spark-home"),
                                                          "RANKOPS_SPARK__MASTER": master,
                                                          "RANKOPS_SPARK__SHUFFLE_PARTITIONS": str(4 * e)}))
        for n in sizes:
            raw = ensure_data(args.workdir, n, args.days, args.dirty_share)
            wall, summary = run_spark(spark, raw, args.workdir / f"spark-{n}-x{e}")
            results[(n, e)] = (summary["bronze_rows"], wall)
            print(f"  {n:,} impressions, {e} executor(s): {wall:.1f} s {summary['phases']}", flush=True)
        spark.stop()
    print(f"\n{'impressions':>12} {'executors':>9} {'lines':>11} {'wall s':>8} {'rows/s':>9} {'speed-up':>8}")
    for (n, e), (lines, wall) in sorted(results.items()):
        base = results.get((n, executor_counts[0]))
        speedup = f"{base[1] / wall:.2f}x" if base else "-"
        print(f"{n:>12,} {e:>9} {lines:>11,} {wall:>8.1f} {lines / wall:>9,.0f} {speedup:>8}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1000000,4000000", help="Comma-separated impression counts.")
    ap.add_argument("--days", type=int, default=4, help="Days = raw files per kind (Spark reads one file per task).")
    ap.add_argument("--dirty-share", type=float, default=0.02)
    ap.add_argument("--workdir", type=Path, default=Path(os.environ.get("RANKOPS_HOME", ".rankops")) / "bench-etl")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads (match Spark's local[N]).")
    ap.add_argument("--skip-duckdb", action="store_true")
    ap.add_argument("--executors", default="", help="Comma-separated executor counts: the scaling table.")
    ap.add_argument("--executor-memory-mb", type=int, default=2048)
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if args.executors:
        scaling_table(args, sizes, [int(e) for e in args.executors.split(",") if e])
        return

    from components.common.config import load_settings
    from components.common.spark import get_spark

    args.workdir.mkdir(parents=True, exist_ok=True)
    spark = get_spark(load_settings("local", environ={"RANKOPS_HOME": str(args.workdir / "spark-home"),
                                                      "RANKOPS_SPARK__MASTER": f"local[{args.threads}]"}))
    rows = []
    for n in sizes:
        raw = ensure_data(args.workdir, n, args.days, args.dirty_share)
        spark_s, summary = run_spark(spark, raw, args.workdir / f"spark-{n}")
        duck_s = None if args.skip_duckdb else run_duckdb(raw, args.workdir / f"duckdb-{n}", args.threads)
        rows.append((n, summary["bronze_rows"], spark_s, duck_s, summary["phases"]))
        print(f"  {n:,}: spark {spark_s:.1f} s {summary['phases']}  duckdb {duck_s or float('nan'):.1f} s", flush=True)

    print(f"\n{'impressions':>12} {'lines':>10} {'spark s':>8} {'rows/s':>9} {'duckdb s':>9} {'spark/duckdb':>12}")
    for n, lines, s, d, _ in rows:
        ratio = f"{s / d:.2f}x" if d else "-"
        print(f"{n:>12,} {lines:>10,} {s:>8.1f} {lines / s:>9,.0f} {d or float('nan'):>9.1f} {ratio:>12}")
    for n, _, s, d, _ in rows:
        if d:
            print(f"target spark <= 3x duckdb at {n:,}: {s / d:.2f}x -> {'met' if s <= 3 * d else 'NOT met'}")
    if len(rows) >= 2:
        (n1, _, s1, _, _), (n2, _, s2, _, _) = rows[0], rows[-1]
        scale = (n2 / n1) * 1.1
        print(f"target {n2 / n1:.0f}x rows in <= {scale:.1f}x time: {s2 / s1:.2f}x -> {'met' if s2 / s1 <= scale else 'NOT met'}")


if __name__ == "__main__":
    main()
