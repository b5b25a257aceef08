"""Property-based tests of the contract (hypothesis): parse.LineChecker against rows generated from
the contract table. Valid rows keep their values (only the documented normalisation: UTC
timestamps, numbers typed, query normal form and canonical URL added); every defect class gets
its reason and names its field. The same cases run through Spark in test_etl_contract_spark.py.
"""

from __future__ import annotations

import pytest
from contract_cases import (
    MAX_CHARS,
    Case,
    applies,
    columns_of,
    defect_cases,
    row_defects,
    urls,
    valid_cases,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from components.common.contract import DEFECTS, Kind, Reason
from components.etl.normalize import canonicalize_url
from components.etl.parse import LineChecker, Reject

SHA = "sha-judgements"


def check(case: Case, columns: list[str] | None = None) -> dict | Reject:
    headers = {SHA: columns or columns_of(Kind.JUDGEMENTS)}
    try:
        return LineChecker(case.kind, MAX_CHARS, headers).check(case.line, SHA)
    except Reject as exc:
        return exc


@pytest.mark.parametrize("kind", list(Kind), ids=[k.value for k in Kind])
@given(data=st.data())
def test_valid_rows_reach_silver_with_their_values(kind, data):
    columns = data.draw(st.permutations(columns_of(kind))) if kind is Kind.JUDGEMENTS else None  # any header order
    case = data.draw(valid_cases(kind, columns))
    got = check(case, columns)
    assert not isinstance(got, Reject), f"{case.line!r} rejected: {got}"
    assert got == case.values


@pytest.mark.parametrize("kind", list(Kind), ids=[k.value for k in Kind])
@settings(max_examples=2 * settings.default.max_examples)  # ~20 per class and kind
@given(data=st.data())
def test_each_defect_class_is_quarantined_with_its_reason_naming_the_field(kind, data):
    defect = data.draw(st.sampled_from(row_defects(kind)))
    case = data.draw(defect_cases(kind, defect))
    got = check(case)
    assert isinstance(got, Reject), f"{defect}: {case.line!r} accepted as {got}"
    assert got.reason == case.reason, f"{defect}: {case.line!r} -> {got.reason}: {got.detail}"
    field = case.meta.get("field")
    if field is not None and not got.detail.startswith("line:"):  # a NUL splits no CSV line: line-level
        assert got.detail.split(":")[0].split("[")[0] == field, got.detail


def test_the_defect_table_matches_what_the_field_table_allows():
    """contract.DEFECTS lists a class for a kind exactly where that kind's fields and format allow it."""
    for d in DEFECTS:
        assert set(d.kinds) == {k for k in Kind if applies(k, d.name)}, d.name
    assert {d.reason for d in DEFECTS if d.reason} == set(Reason)  # and every reason has a class


@given(urls())
def test_url_spellings_canonicalise_to_host_and_path(url):
    assert canonicalize_url(url["raw"]) == url["canonical"]
