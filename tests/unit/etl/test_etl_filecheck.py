"""The line check run on bronze files (filecheck.py) against the Arrow UDF check (silver.check_kind)
on the same bronze rows: the same rows, values and reasons, whatever the files and row groups."""

from collections import Counter
from datetime import datetime

import pyarrow.parquet as pq

from components.etl import parse
from components.etl.accounting import checked_outcome_counts
from components.etl.bronze import BRONZE_SCHEMA
from components.etl.filecheck import bronze_units, check_bronze_files, check_units, write_silver_files
from components.etl.silver import check_kind
from tests.unit.etl.test_etl_silver import CASES, EXTRA

HEADERS = {"sha-judgements": ["query", "video_url", "label", "annotator", "ts"]}


def _bronze(spark, kind):
    stamp = datetime(2026, 1, 5)
    rows = [(k, "b1", f, line, raw, f"sha-{k}", stamp, k == "judgements" and line == 1)
            for k, f, line, raw in [(c[1], c[2], c[3], c[4]) for c in CASES] + EXTRA if k == kind]
    return spark.createDataFrame(rows, BRONZE_SCHEMA)


def _write_bronze(df, folder, files=2, row_group=2):
    """Several Parquet files of small row groups, as a large bronze table has."""
    folder.mkdir(parents=True)
    table = df.orderBy("line_number").toArrow()
    step = -(-table.num_rows // files)
    for i in range(files):
        pq.write_table(table.slice(i * step, step), folder / f"part-{i:05d}.parquet", row_group_size=row_group)


def test_the_file_check_gives_exactly_the_udf_check(spark, tmp_path):
    for kind in ("search_log", "videos", "judgements"):
        data = tmp_path / kind / "data"
        _write_bronze(_bronze(spark, kind), data)
        assert len(bronze_units(data)) >= 3, kind
        expected = check_kind(spark.read.parquet(str(data)), kind, 60, HEADERS)
        lines, reasons = check_bronze_files(spark, data, parse.kind_spec(kind), 60, HEADERS, tmp_path / kind / "checked")
        got = spark.read.schema(expected.schema).parquet(str(tmp_path / kind / "checked"))
        assert lines == expected.count() == got.count()
        assert got.exceptAll(expected).count() == 0 and expected.exceptAll(got).count() == 0, kind
        found = {r.reason for r in got.select("reason").distinct().collect()}
        assert None in found and len(found) > 2, kind  # valid and rejected lines both went through
        assert reasons == dict(Counter(r.reason for r in expected.collect() if r.reason)), kind


def test_a_retried_unit_replaces_its_part_and_a_header_only_row_group_writes_nothing(spark, tmp_path):
    data = tmp_path / "data"
    _write_bronze(_bronze(spark, "judgements"), data, files=1, row_group=1)  # the header line alone in row group 0
    (path, _), (_, second) = bronze_units(data)[:2]
    out = tmp_path / "checked"
    out.mkdir()
    spec = parse.kind_spec("judgements")
    units = [(0, path, 0), (1, path, second)]
    assert list(check_units(iter(units), spec, 60, HEADERS, str(out))) == [(0, 0, {}), (1, 1, {})]
    first = (out / "part-00001.parquet").read_bytes()
    assert list(check_units(iter(units[1:]), spec, 60, HEADERS, str(out))) == [(1, 1, {})]  # as a retried task would
    assert sorted(p.name for p in out.iterdir()) == ["part-00001.parquet"]  # no header part, no temporary file
    assert (out / "part-00001.parquet").read_bytes() == first


def test_the_silver_files_are_the_silver_table_of_split(spark, tmp_path):
    """write_silver_files takes the valid checked rows less the duplicates classified other than
    silver: the rows of silver.split's table (here with an exact duplicate and a conflicting pair)."""
    from components.etl.silver import OUTCOME, classify, split

    data, checked_dir = tmp_path / "data", tmp_path / "checked"
    bronze = _bronze(spark, "search_log")
    _write_bronze(bronze, data)
    spec = parse.kind_spec("search_log")
    schema = check_kind(bronze, spec, 60, HEADERS).schema
    counted = check_bronze_files(spark, data, spec, 60, HEADERS, checked_dir)
    checked = {"search_log": spark.read.schema(schema).parquet(str(checked_dir))}
    staged = {}

    def stage(name, df):
        df.write.parquet(str(tmp_path / name))
        staged[name.partition("/")[0]] = spark.read.parquet(str(tmp_path / name))
        return staged[name.partition("/")[0]]

    classified = classify({"search_log": bronze}, max_field_chars=60, headers=HEADERS, stage=stage, checked=checked)
    expected = split(classified, {"search_log": bronze}).tables["search_log"]
    rows = write_silver_files(spark, checked_dir, tmp_path / "search_log/duplicates", expected.columns, tmp_path / "out")
    got = spark.read.schema(expected.schema).parquet(str(tmp_path / "out"))
    assert rows == expected.count() == got.count() == 1  # the first of an exact duplicate pair (the others rejected)
    assert got.exceptAll(expected).count() == 0 and expected.exceptAll(got).count() == 0
    # the outcome counts from the check's counters and the candidates equal a count over every row
    every = Counter((r[OUTCOME], r["reason"]) for r in classified["search_log"].select(OUTCOME, "reason").collect())
    counts = checked_outcome_counts({"search_log": counted}, staged)["search_log"]
    assert counts == {"silver": every["silver", None], "duplicate": every["duplicate", None],
                      "quarantine": sum(n for (o, _), n in every.items() if o == "quarantine"),
                      "reasons": {r: n for (o, r), n in sorted(every.items(), key=str) if o == "quarantine"}}
    assert counts["duplicate"] == 1 and counts["reasons"]["conflicting_duplicate"] == 2
