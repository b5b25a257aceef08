"""Spark id expressions must give byte-identical ids to normalize.py (ASCII and Unicode paths)."""

from pyspark.sql import functions as F

from components.etl import normalize as nz
from components.etl.ids import canonical_url_col, normalize_query_col, query_id_col, video_id_col

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
    df = spark.createDataFrame([(q,) for q in QUERIES], "q string")
    norm = normalize_query_col(F.col("q"))
    rows = df.select("q", norm.alias("n"), query_id_col(norm).alias("id")).collect()
    assert [(r.n, r.id) for r in rows] == [(nz.normalize_query(q), nz.query_id_of(q)) for q in QUERIES]


def test_spark_video_ids_equal_python(spark):
    df = spark.createDataFrame([(u,) for u in URLS] + [(None,)], "u string")
    canon = canonical_url_col(F.col("u"))
    rows = df.select(canon.alias("c"), video_id_col(canon).alias("id")).collect()
    assert [(r.c, r.id) for r in rows] == [(nz.canonicalize_url(u), nz.video_id_of(u)) for u in URLS + [None]]
    assert rows[0].id == "5b477bbf3cc98d51"
