"""Query normalisation and URL canonicalisation: the ids every stage joins on.

Pure Python, no Spark, and the only implementation: feature serving, training and the online
ranker call these on single strings, and silver applies them to each distinct value
(``components.etl.ids``), so every stage gets byte-identical ids. Plain string rules: no
percent-decoding, no IDNA.

Canonical URL = ``host[:port]/path[?query]`` where
- the scheme must be http or https (case-insensitive) and is dropped,
- user-info is dropped, the host is lowercased, one leading ``www.`` is dropped,
- a default port (80 for http, 443 for https) is dropped, any other port kept,
- trailing slashes of the path are dropped (path case is kept: video ids are case-sensitive),
- the fragment is dropped,
- query parameters: empty pieces and tracking keys (``utm_*``, fbclid, gclid, si, feature, ...)
  are dropped; the rest are kept verbatim and sorted.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

ID_CHARS = 16

# Tracking parameters (lowercased key); any key starting with "utm_" is tracking too.
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "si", "feature", "mc_cid", "mc_eid", "_ga", "ref_src"}
)
TRACKING_PREFIX = "utm_"

# Characters stripped around a URL: an explicit ASCII set (str.strip() would also strip Unicode
# spaces), kept as it was when Spark mirrored these rules so existing ids stay valid.
URL_STRIP = " \t\r\n"
# scheme :// authority path ?query #fragment
URL_RE = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*)://([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#.*)?\Z", re.DOTALL)
HOST_PORT_RE = re.compile(r"(.*?)(?::([0-9]*))?\Z", re.DOTALL)
DEFAULT_PORTS = {"http": "80", "https": "443"}
# Characters that cannot appear in a host (explicit ASCII set, for the same reason).
BAD_HOST_CHARS = "\t\n\x0b\x0c\r \x1c\x1d\x1e\x1f<>\"\\^`{|}"


def normalize_query(text: str) -> str:
    """Unicode NFC, casefold, whitespace runs collapsed to one space, stripped."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def id_of(normal_form: str) -> str:
    """Stable id of an already normalised query or canonical URL: sha1, 16 hex chars."""
    return hashlib.sha1(normal_form.encode("utf-8")).hexdigest()[:ID_CHARS]


def query_id_of(text: str) -> str:
    """Stable id of a query: the id of its normal form."""
    return id_of(normalize_query(text))


def is_tracking_param(key: str) -> bool:
    """Whether a query-string key only tracks the click (dropped from the canonical URL)."""
    key = key.lower()
    return key.startswith(TRACKING_PREFIX) or key in TRACKING_PARAMS


def canonicalize_url(url: str | None) -> str | None:
    """The canonical spelling of a video URL, or None when it is not http(s) or has no host."""
    if not isinstance(url, str):
        return None
    match = URL_RE.match(url.strip(URL_STRIP))
    if match is None:
        return None
    scheme, authority, path, query = match.group(1).lower(), match.group(2), match.group(3), match.group(4)
    if scheme not in DEFAULT_PORTS:
        return None
    host_port = authority.rsplit("@", 1)[-1].lower()
    hp = HOST_PORT_RE.match(host_port)
    host, port = hp.group(1), hp.group(2) or ""
    if host.startswith("www."):
        host = host[4:]
    if not host or any(c in BAD_HOST_CHARS for c in host):
        return None
    out = host
    if port and port != DEFAULT_PORTS[scheme]:
        out += ":" + port
    out += path.rstrip("/")
    if query:
        params = sorted(p for p in query.split("&") if p and not is_tracking_param(p.split("=", 1)[0]))
        if params:
            out += "?" + "&".join(params)
    return out


def video_id_of(url: str | None) -> str | None:
    """Stable id of a video: the id of its canonical URL (None for invalid URLs)."""
    canonical = canonicalize_url(url)
    return None if canonical is None else id_of(canonical)
