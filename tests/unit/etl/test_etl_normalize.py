"""Exact ids of the pure-Python normalisation every stage joins on."""

import hashlib

import pytest

from components.etl.normalize import canonicalize_url, normalize_query, query_id_of, video_id_of

CANON = "vidhub.example/watch?v=abc123"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Cafe\u0301  ROCK\tMusic ", "caf\u00e9 rock music"),  # NFC + casefold + collapse + strip
        ("Stra\u00dfe", "strasse"),  # casefold, not lower
        ("a\u00a0\u2003b\n", "a b"),  # Unicode spaces collapse too
        ("   ", ""),
    ],
)
def test_normalize_query(text, expected):
    assert normalize_query(text) == expected


def test_query_id_of_is_sha1_prefix_of_normal_form():
    assert query_id_of("Caf\u00c9  Rock music") == hashlib.sha1("caf\u00e9 rock music".encode()).hexdigest()[:16]
    assert query_id_of("caf\u00e9 rock music") == "db74a2bfcfa54fa0"
    assert query_id_of("CAFE\u0301 ROCK MUSIC") == "db74a2bfcfa54fa0"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.VidHub.example/watch?v=abc123&utm_source=x", CANON),
        ("http://vidhub.example/watch/?v=abc123#t=3", CANON),
        ("HTTPS://user:pw@WWW.vidhub.example:443/watch?feature=share&v=abc123&si=zz", CANON),
        ("  http://vidhub.example:80/watch?gclid=1&v=abc123&fbclid=2\n", CANON),
        ("https://vidhub.example:8080/v/Ab//?b=2&a=1&&UTM_x=1", "vidhub.example:8080/v/Ab?a=1&b=2"),
        ("https://vidhub.example/", "vidhub.example"),
        ("https://vidhub.example/v/XyZ?utm_medium=a", "vidhub.example/v/XyZ"),
        ("ftp://vidhub.example/v/1", None),
        ("http:///nohost", None),
        ("https://www./v/1", None),
        ("vidhub.example/watch?v=1", None),
        ("javascript:alert(1)", None),
        ("", None),
        (None, None),
        (42, None),
        # hosts: domain names of >= 2 labels (any script), IPv4, bracketed IPv6; ports 0..65535
        ("https://W\u00c9B.example/caf\u00e9?x=1", "w\u00e9b.example/caf\u00e9?x=1"),
        ("https://\u0130.example/", "i\u0307.example"),  # lowercased to i + combining dot: still a label
        ("https://[::1]:8080/v/1", "[::1]:8080/v/1"),
        ("https://10.0.0.7/v/1", "10.0.0.7/v/1"),
        ("https://host.example:/p?x", "host.example/p?x"),  # an empty port is allowed (RFC 3986)
        ("https://host.example:65535/v", "host.example:65535/v"),
        ("https://host.example:65536/v", None),
        ("https://10.0.0.256/v/1", None),
        ("https://[::g]/v/1", None),
        ("https://vid_hub.example/v/1", None),
        ("https://vid!hub.example/v/1", None),
        ("https://vid hub.example/v/1", None),
        ("https://-vidhub.example/v/1", None),
        ("https://vidhub.example./v/1", None),  # an empty label
        ("https://localhost/v/1", None),  # one label: not a public host
        ("https://host.example:8o/v/1", None),
        # broken scheme separators
        ("https:/vidhub.example/v/1", None),
        ("https//vidhub.example/v/1", None),
        ("https:\\\\vidhub.example/v/1", None),
        ("http://https://vidhub.example/v/1", None),
        ("https:///vidhub.example/v/1", None),
        # whitespace or a control character inside (around it is stripped)
        ("https://vidhub.example/a b", None),
        ("https://vidhub.example/a\x01b", None),
        ("https://vidhub.example/a\x7fb", None),
        ("https://vidhub.example/a\u3000b", None),
    ],
)
def test_canonicalize_url(url, expected):
    assert canonicalize_url(url) == expected


def test_video_id_of_spelling_variants_share_one_id():
    assert video_id_of("https://www.VidHub.example/watch?v=abc123&utm_source=x") == "5b477bbf3cc98d51"
    assert video_id_of("http://vidhub.example/watch/?si=1&v=abc123") == "5b477bbf3cc98d51"
    assert video_id_of("http://vidhub.example/watch?v=abc124") != "5b477bbf3cc98d51"
    assert video_id_of("mailto:x@y.z") is None
