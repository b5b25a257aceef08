"""Spark ids (distinct values normalised by normalize.py, joined back) equal normalize.py per row."""

import pytest

from components.etl import normalize as nz
from components.etl.ids import with_ids

QUERIES = [
    "  Cafe\u0301  ROCK\tMusic ", "Stra\u00dfe", "a\u00a0\u2003b\n", "   ", "", "lo-fi  BEATS\x1c\x1fto study",
    "\u0130stanbul", "\ufb01sh tacos", "MiXeD\r\ncase", "\u00c5ngstr\u00f6m", "tab\x0bvt\x0cff", "\u03a3\u03c3\u03c2",
]
URLS = [
    "https://www.VidHub.example/watch?v=abc123&utm_source=x", "http://vidhub.example/watch/?v=abc123#t=3",
    "HTTPS://user:pw@WWW.vidhub.example:443/watch?feature=share&v=abc123&si=zz",
    "  http://vidhub.example:80/watch?gclid=1&v=abc123&fbclid=2\n", "https://vidhub.example:8080/v/Ab//?b=2&a=1&&UTM_x=1",
    "https://vidhub.example/", "ftp://vidhub.example/v/1", "http:///nohost", "https://www./v/1",
    "vidhub.example/watch?v=1", "javascript:alert(1)", "", "https://vid hub.example/x", "https://a@b@Host.example/p",
    "https://host.example:/p?x", "https://host.example/p?=&a", "https://h.example/p?b=\u00e9&a=1",
    "https://W\u00c9B.example/caf\u00e9?x=1", "http://h.example/a#frag?x=1", "https://h.example?x=2&x=1",
    "https://h.example/p?Feature=x&SI=y&utm_=z&keep=1", "HTTP://H.EXAMPLE:443/", "https://h.example/p\t", "https://h.example/a\x01b?x=1", "http://h.example",
    "https://\u0130.example/", "https://h.example/%2Fpath/?Q=%20",
]


def test_spark_query_ids_equal_python(spark):
    rows_in = [(i, q) for i, q in enumerate(QUERIES + QUERIES[:3] + [None])]  # repeats share one lookup row
    df = with_ids(spark.createDataFrame(rows_in, "i int, q string"), query="q")
    rows = sorted(df.collect(), key=lambda r: r.i)
    assert df.columns == ["i", "q", "query_norm", "query_id"]
    expected = [(None, None) if q is None else (nz.normalize_query(q), nz.query_id_of(q)) for _, q in rows_in]
    assert [(r.query_norm, r.query_id) for r in rows] == expected


def test_spark_video_ids_equal_python(spark):
    rows_in = [(i, u) for i, u in enumerate(URLS + URLS[:2] + [None])]
    df = with_ids(spark.createDataFrame(rows_in, "i int, u string"), url="u")
    rows = sorted(df.collect(), key=lambda r: r.i)
    assert [(r.canonical_url, r.video_id) for r in rows] == [(nz.canonicalize_url(u), nz.video_id_of(u)) for _, u in rows_in]
    assert rows[0].video_id == "5b477bbf3cc98d51"
    assert rows[6].canonical_url is None and rows[6].video_id is None  # ftp: invalid, row kept


def test_one_lookup_serves_both_columns(spark):
    """Queries and URLs share one distinct-value lookup: its broadcast is built once, then reused."""
    rows_in = [(q, u) for q, u in zip(QUERIES, URLS, strict=False)]
    df = with_ids(spark.createDataFrame(rows_in, "q string, u string"), query="q", url="u")
    rows = df.collect()
    assert [(r.query_id, r.video_id) for r in rows] == [(nz.query_id_of(q), nz.video_id_of(u)) for q, u in rows_in]
    assert "ReusedExchange" in df._jdf.queryExecution().executedPlan().toString()


def test_unknown_id_kind_is_refused(spark):
    with pytest.raises(ValueError, match="qery"):
        with_ids(spark.createDataFrame([("x",)], "q string"), qery="q")
