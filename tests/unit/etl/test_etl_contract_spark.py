"""The contract's properties through real Spark, on one generated batch of a few thousand lines.

The batch is drawn from the same hypothesis strategies as test_etl_contract_properties.py (valid
rows of every kind and every defect class), plus exact duplicates (byte copies and re-spaced
copies: equal typed content) and, in the search log, conflicting versions of an event. One run of
silver's `classify`; every line must end as the independent model below says: silver with its
values, quarantine with its reason, or a counted duplicate.
"""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta

import pytest
from contract_cases import MAX_CHARS, Case, defect_cases, row_defects, valid_cases
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from components.common.contract import RULES, SILVER_COLUMNS, Kind, Reason
from components.etl.bronze import BRONZE_SCHEMA
from components.etl.silver import OUTCOME, classify

pytestmark = pytest.mark.slow
VALID, PER_CLASS = 700, 12  # per kind: ~3,600 lines in all with the duplicates
COLUMNS = ["ts", "annotator", "label", "query", "video_url"]  # the judgements file's own header order


def draw_many(strategy: st.SearchStrategy[Case], n: int) -> list[Case]:
    """`n` examples of a strategy, reproducibly (derandomized, generation only)."""
    out: list[Case] = []

    @settings(max_examples=n, phases=[Phase.generate], derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(case):
        out.append(case)

    collect()
    return out


def sample_cases(rng: random.Random) -> dict[Kind, list[Case]]:
    """Valid lines and every defect class of each kind, drawn by hypothesis, in a shuffled order."""
    cases = {}
    for kind in Kind:
        columns = COLUMNS if kind is Kind.JUDGEMENTS else None
        drawn = draw_many(valid_cases(kind, columns), VALID)
        for defect in row_defects(kind):
            drawn += draw_many(defect_cases(kind, defect, columns), PER_CLASS)
        rng.shuffle(drawn)
        cases[kind] = drawn
    return cases


def with_duplicates(kind: Kind, cases: list[Case], rng: random.Random) -> list[Case]:
    """Unique event ids, then copies: byte-identical, re-spaced (same typed content), conflicting."""
    out: list[Case] = []
    for i, case in enumerate(cases):
        if kind is Kind.SEARCH_LOG and case.values is not None:
            literal = case.meta["literal"]["event_id"]
            line = re.sub(rb'("event_id"\s*:\s*)' + re.escape(literal.encode()), rb'\g<1>"ev-%d"' % i, case.line, count=1)
            case = Case(kind, line, values={**case.values, "event_id": f"ev-{i}"}, meta=case.meta)
        out.append(case)
        if case.values is None or rng.random() > 0.1:
            continue
        copy = rng.choice(("bytes", "spaced", "conflict" if kind is Kind.SEARCH_LOG else "bytes"))
        if copy == "bytes":
            out.append(case)
        elif copy == "spaced" and kind is not Kind.JUDGEMENTS:
            out.append(Case(kind, case.line.replace(b"{", b"{ \t", 1), values=case.values))
        elif copy == "conflict":
            flipped = case.line.replace(b'"clicked"', b'"clicked_0"', 1)  # the old value under an unknown key
            flipped = flipped[: flipped.rindex(b"}")] + b', "clicked": %s}' % (b"false" if case.values["clicked"] else b"true")
            out.append(Case(kind, flipped, values={**case.values, "clicked": not case.values["clicked"]}))
    return out


def expected_outcomes(kind: Kind, cases: list[Case]) -> list[tuple[str, str | None]]:
    """(outcome, reason) per line: an independent model of deduplication over the expected values."""
    fields = [r.name for r in RULES[kind]]
    groups: dict[object, list[int]] = {}
    for i, case in enumerate(cases):
        if case.values is not None:
            key = case.values["event_id"] if kind is Kind.SEARCH_LOG else repr([case.values[f] for f in fields])
            groups.setdefault(key, []).append(i)
    out: list[tuple[str, str | None]] = [("quarantine", c.reason.value) if c.values is None else ("", None) for c in cases]
    for members in groups.values():
        contents = {repr([cases[i].values[f] for f in fields]) for i in members}
        for n, i in enumerate(members):
            if len(contents) > 1:
                out[i] = ("quarantine", Reason.CONFLICTING_DUPLICATE.value)
            else:
                out[i] = ("silver" if n == 0 else "duplicate", None)
    return out


def as_spark(values: dict, kind: Kind) -> dict:
    """Expected values as Spark returns them (timestamps as naive UTC datetimes)."""
    stamps = {r.name for r in RULES[kind] if r.sql == "timestamp"}
    epoch = datetime(1970, 1, 1)
    return {c: epoch + timedelta(microseconds=values[c]) if c in stamps else values[c] for c in SILVER_COLUMNS[kind]}


def test_contract_properties_hold_through_spark(spark):
    rng = random.Random(15)
    drawn = sample_cases(rng)
    cases = {kind: with_duplicates(kind, drawn[kind], rng) for kind in Kind}
    assert sum(len(c) for c in cases.values()) > 3000
    stamp, rows = datetime(2026, 1, 5), []
    for kind, batch in cases.items():
        header = [(",".join(COLUMNS)).encode()] if kind is Kind.JUDGEMENTS else []
        for n, line in enumerate(header + [c.line for c in batch], start=1):
            rows.append((kind.value, "b1", f"b1/{kind.value}/p", n, line, f"sha-{kind.value}", stamp, bool(header) and n == 1))
    bronze = spark.createDataFrame(rows, BRONZE_SCHEMA)
    by_kind = {k.value: bronze.filter(bronze.kind == k.value) for k in Kind}
    classified = classify(by_kind, max_field_chars=MAX_CHARS, headers={"sha-judgements": COLUMNS})
    for kind in Kind:
        offset = 2 if kind is Kind.JUDGEMENTS else 1  # line numbers start after the CSV header
        got = {r.line_number - offset: r.asDict() for r in classified[kind.value].collect()}
        expected = expected_outcomes(kind, cases[kind])
        assert len(got) == len(expected)
        wrong = []
        for i, (case, (outcome, reason)) in enumerate(zip(cases[kind], expected, strict=True)):
            row = got[i]
            if (row[OUTCOME], row["reason"]) != (outcome, reason):
                wrong.append((case.defect, case.line[:160], (outcome, reason), (row[OUTCOME], row["reason"], row["detail"])))
            elif outcome == "silver" and {c: row[c] for c in SILVER_COLUMNS[kind]} != as_spark(case.values, kind):
                wrong.append(("values", case.line[:160], as_spark(case.values, kind), row))
        assert wrong == [], f"{kind}: {len(wrong)} lines differ, first: {wrong[:3]}"
        outcomes = [o for o, _ in expected]
        assert {"silver", "duplicate", "quarantine"} <= set(outcomes), kind  # the batch exercises all three
        assert {c.defect for c in cases[kind] if c.defect} == set(row_defects(kind)), kind  # and every class
        if kind is Kind.SEARCH_LOG:
            assert Reason.CONFLICTING_DUPLICATE.value in {r for _, r in expected}
