"""Spark column expressions that give the same ids as ``components.etl.normalize``.

ASCII strings (almost all rows) go through Spark built-ins (regexp, split, array_sort, sha1),
which mirror normalize.py exactly for ASCII. Non-ASCII strings need Unicode NFC and Python's
casefold, which Spark lacks: a vectorised pandas UDF calls normalize.py for those rows only
(it receives NULL for ASCII rows, so its cost stays small). Tests compare both paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd  # module level: pandas_udf resolves the string type hints here

from components.etl import normalize as nz

if TYPE_CHECKING:
    from pyspark.sql import Column

# Java regex twins of normalize.URL_RE / HOST_PORT_RE (\z = absolute end in Java).
J_URL_RE = r"(?s)^([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?\z"
J_HOST_PORT_RE = r"(?s)^(.*?)(?::([0-9]*))?\z"
J_STRIP_RE = r"^[ \t\r\n]+|[ \t\r\n]+$"
J_SPACE_RE = "[\\t\\n\\x0B\\f\\r \\x1C-\\x1F]+"  # Python's str.split() whitespace, ASCII part
J_BAD_HOST_RE = "[\\t\\n\\x0B\\f\\r \\x1C-\\x1F<>\"\\\\^`{|}]"


def is_ascii(col: Column) -> Column:
    """True when every character is ASCII (chars == bytes), cheaper than a regex."""
    from pyspark.sql import functions as F

    return F.length(col) == F.octet_length(col)


def _sha16(col: Column) -> Column:
    from pyspark.sql import functions as F

    return F.substring(F.sha1(F.encode(col, "UTF-8")), 1, nz.ID_CHARS)


def _python_query_norm():
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("string")
    def query_norm_udf(texts: pd.Series) -> pd.Series:
        return texts.map(lambda t: None if t is None else nz.normalize_query(t))

    return query_norm_udf


def _python_canonical():
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("string")
    def canonical_udf(urls: pd.Series) -> pd.Series:
        return urls.map(lambda u: None if u is None else nz.canonicalize_url(u))

    return canonical_udf


def normalize_query_col(col: Column) -> Column:
    """normalize_query(col): built-ins for ASCII, normalize.py for the rest."""
    from pyspark.sql import functions as F

    ascii_norm = F.trim(F.regexp_replace(F.lower(col), J_SPACE_RE, " "))
    slow = _python_query_norm()(F.when(~is_ascii(col), col))
    return F.when(col.isNull(), F.lit(None)).when(is_ascii(col), ascii_norm).otherwise(slow)


def query_id_col(norm: Column) -> Column:
    """query_id from an already normalised query column."""
    return _sha16(norm)


def _ascii_canonical(url: Column) -> Column:
    from pyspark.sql import functions as F

    u = F.regexp_replace(url, J_STRIP_RE, "")
    # ONE regex pass splits the URL into its groups (\u0001-separated), instead of one per group.
    parts = F.split(F.regexp_replace(u, J_URL_RE, "$1\u0001$2\u0001$3\u0001$4"), "\u0001")
    scheme = F.lower(F.get(parts, 0))  # get(): NULL past the end (a non-matching URL has one part)
    authority = F.get(parts, 1)
    path = F.regexp_replace(F.get(parts, 2), "/+$", "")
    query = F.get(parts, 3)
    host_port = F.lower(F.regexp_replace(authority, "(?s)^.*@", ""))
    host = F.regexp_replace(F.regexp_extract(host_port, J_HOST_PORT_RE, 1), "^www\\.", "")
    port = F.regexp_extract(host_port, J_HOST_PORT_RE, 2)
    default_port = F.when(scheme == "http", F.lit("80")).otherwise(F.lit("443"))
    tracking = list(nz.TRACKING_PARAMS)
    params = F.filter(
        F.split(query, "&"),
        lambda p: (p != "")
        & ~F.lower(F.substring_index(p, "=", 1)).startswith(nz.TRACKING_PREFIX)
        & ~F.lower(F.substring_index(p, "=", 1)).isin(tracking),
    )
    canonical = F.concat(
        host,
        F.when((port != "") & (port != default_port), F.concat(F.lit(":"), port)).otherwise(F.lit("")),
        path,
        F.when(F.size(params) > 0, F.concat(F.lit("?"), F.array_join(F.array_sort(params), "&"))).otherwise(
            F.lit("")
        ),
    )
    valid = u.rlike(J_URL_RE) & scheme.isin("http", "https") & (host != "") & ~host.rlike(J_BAD_HOST_RE)
    return F.when(valid, canonical)


def canonical_url_col(url: Column) -> Column:
    """canonicalize_url(col): NULL for invalid URLs, exactly like normalize.py."""
    from pyspark.sql import functions as F

    fast = is_ascii(url) & ~url.contains("\u0001")  # \u0001 separates the regex groups above
    slow = _python_canonical()(F.when(~fast, url))
    return F.when(url.isNull(), F.lit(None)).when(fast, _ascii_canonical(url)).otherwise(slow)


def video_id_col(canonical: Column) -> Column:
    """video_id from an already canonical URL column (NULL stays NULL)."""
    from pyspark.sql import functions as F

    return F.when(canonical.isNotNull(), _sha16(canonical))
