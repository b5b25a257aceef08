"""The report hash a decision carries: canonical JSON as decision.json stores it, computed by hand here."""

import hashlib

from components.registry.evidence import report_digest


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_digest_is_sorted_compact_json_without_the_unhashed_keys():
    decision = {"promote": True, "delta": 0.25, "reasons": ["a", "é"], "report_sha256": "x", "report_dir": "/tmp/r"}
    assert report_digest(decision) == sha('{"delta":0.25,"promote":true,"reasons":["a","é"]}')


def test_digest_treats_nan_as_the_null_the_file_holds_and_sees_every_edit():
    assert report_digest({"p_value": float("nan"), "queries": 3}) == sha('{"p_value":null,"queries":3}')
    assert report_digest({"p_value": None, "queries": 3}) == report_digest({"p_value": float("nan"), "queries": 3})
    assert report_digest({"promote": False, "queries": 3}) != report_digest({"promote": True, "queries": 3})
