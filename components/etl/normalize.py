"""Query normalisation and URL canonicalisation: the ids every stage joins on.

Pure Python, no Spark, and the only implementation: feature serving, training and the online
ranker call these on single strings, and silver's line checker (``components.etl.parse``) applies
them to each distinct value of a task, so every stage gets byte-identical ids. Plain string rules:
no percent-decoding, no IDNA.

Canonical URL = ``host[:port]/path[?query]`` where
- the scheme must be http or https (case-insensitive), followed by ``://``, and is dropped,
- no whitespace or control character inside the URL (surrounding spaces, tabs, CR, LF are stripped),
- user-info is dropped, the host is lowercased, one leading ``www.`` is dropped,
- the host must be a domain name of at least two dot-separated labels of letters and digits
  (any script) with inner hyphens, each at most 63 characters, an IPv4 address, or a bracketed
  IPv6 address; a port must be 0..65535,
- a default port (80 for http, 443 for https) is dropped, any other port kept,
- trailing slashes of the path are dropped (path case is kept: video ids are case-sensitive),
- the fragment is dropped,
- query parameters: empty pieces and tracking keys (``utm_*``, fbclid, gclid, si, feature, ...)
  are dropped; the rest are kept verbatim and sorted.
"""

from __future__ import annotations

import hashlib
import ipaddress
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
BAD_URL_CHAR_RE = re.compile(r"[\s\x00-\x1f\x7f]")  # whitespace (any script) and controls
MAX_LABEL_CHARS, MAX_HOST_CHARS = 63, 253
MAX_PORT = 65535


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


def _is_label(label: str) -> bool:
    """1..63 letters, digits (any script, combining marks included) and inner hyphens."""
    return (
        0 < len(label) <= MAX_LABEL_CHARS and label[0] != "-" and label[-1] != "-"
        and all(c.isalnum() or c == "-" or unicodedata.category(c)[0] == "M" for c in label)
    )


def is_valid_host(host: str) -> bool:
    """A lowercased host is a domain name (>= 2 labels), an IPv4 address or a bracketed IPv6 address."""
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    labels = host.split(".")
    if len(labels) < 2 or len(host) > MAX_HOST_CHARS or not all(map(_is_label, labels)):
        return False
    if all(label.isascii() and label.isdigit() for label in labels):  # dotted numbers are an IPv4 address
        return len(labels) == 4 and all(int(label) <= 255 for label in labels)
    return True


def canonicalize_url(url: str | None) -> str | None:
    """The canonical spelling of a video URL, or None when it breaks the rules above."""
    if not isinstance(url, str):
        return None
    url = url.strip(URL_STRIP)
    match = URL_RE.match(url)
    if match is None or BAD_URL_CHAR_RE.search(url):
        return None
    scheme, authority, path, query = match.group(1).lower(), match.group(2), match.group(3), match.group(4)
    if scheme not in DEFAULT_PORTS:
        return None
    host_port = authority.rsplit("@", 1)[-1].lower()
    hp = HOST_PORT_RE.match(host_port)
    host, port = hp.group(1), hp.group(2) or ""
    if host.startswith("www."):
        host = host[4:]
    if not is_valid_host(host) or (port and int(port) > MAX_PORT):
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
