"""Value domains from the contract and the fill defaults; support checks; messages that name rows and sources."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from components.monitoring.domains import Domain, contract_domains, domains_for, outside_support
from components.monitoring.quality import check_domains, check_quality, check_support
from components.monitoring.settings import MonitoringSettings

TS = "features/training_set_ranker_v1@abc"


def test_contract_domains_are_the_gold_gate_rules():
    domains = contract_domains()
    assert (domains["qv_ctr"].lower, domains["qv_ctr"].upper) == (0.0, 1.0)
    assert (domains["qv_debiased_ctr"].lower, domains["qv_debiased_ctr"].upper) == (0, None)  # may exceed 1
    assert (domains["qv_mean_position"].lower, domains["qv_mean_position"].upper) == (1, None)
    assert domains["label"].allowed == (0, 1, 2, 3)
    assert "split" not in domains and "query_text" not in domains  # categorical / text rules are not numeric domains
    assert domains["video_ctr"].source == ("contract: gold/video_features in_range(0.0, 1.0), the ETL quality gate")


def test_fill_default_widens_a_domain_only_where_it_lies_outside():
    doms = domains_for(["qv_mean_position", "qv_ctr", "no_such_feature"], {"qv_mean_position": 0.0, "qv_ctr": 0.0},
                       f"the {TS} manifest")
    assert sorted(doms) == ["qv_ctr", "qv_mean_position"]
    assert doms["qv_mean_position"].rule() == ">= 1 or the fill default 0"
    assert doms["qv_mean_position"].source.endswith(f"; fill default 0 from the {TS} manifest")
    assert doms["qv_ctr"].fill is None and doms["qv_ctr"].rule() == "in [0, 1]"


def test_domain_check_names_failing_rows_values_and_source():
    doms = domains_for(["qv_mean_position", "qv_debiased_ctr"], {"qv_mean_position": 0.0}, f"the {TS} manifest")
    df = pd.DataFrame({"query_id": list("abcde"), "video_id": list("vwxyz"),
                       "qv_mean_position": [0.0, 0.5, 1.0, 3.0, -1.0],
                       "qv_debiased_ctr": [0.0, 1.8, 4.0, np.nan, 0.2]})
    position, debiased = check_domains(df, doms)
    assert not position.passed and position.value == 2
    assert [e["row"] for e in position.examples] == [1, 4]
    assert position.message == (
        "qv_mean_position: 2 of 5 rows outside >= 1 or the fill default 0 (contract: gold/query_video_features "
        f"greater_than_or_equal_to(1), the ETL quality gate; fill default 0 from the {TS} manifest): "
        "row 1 (query_id b, video_id w) = 0.5, row 4 (query_id e, video_id z) = -1.0")
    assert debiased.passed and debiased.value == 0  # 1.8 and 4.0: a debiased CTR may exceed 1; NaN is the null check's


def test_outside_support_is_a_binomial_test_against_exchangeability():
    ref = np.arange(100, dtype="float64")  # support [0, 99], n = 100
    cur = np.r_[np.arange(47, dtype="float64"), [150.0, -3.0, 120.0]]  # 3 of 50 outside
    res = outside_support("x", ref, cur)
    p0 = 2 / 101
    by_hand = sum(math.comb(50, k) * p0**k * (1 - p0) ** (50 - k) for k in range(3, 51))
    assert (res.lower, res.upper, res.outside, res.values) == (0.0, 99.0, 3, 50)
    assert res.expected_share == pytest.approx(p0)
    assert res.pvalue == pytest.approx(by_hand, rel=1e-9)
    assert outside_support("x", ref, np.arange(50, dtype="float64")).pvalue == 1.0


def test_support_check_breaches_only_beyond_chance():
    cfg = MonitoringSettings()
    ref = pd.DataFrame({"custom": np.arange(1000, dtype="float64")})
    one_out = pd.DataFrame({"custom": np.r_[np.arange(199, dtype="float64"), [1000.0]]})
    many_out = pd.DataFrame({"custom": np.r_[np.arange(180, dtype="float64"), np.full(20, 5000.0)]})
    (ok,) = check_support(ref, one_out, ["custom"], cfg, "local")
    (bad,) = check_support(ref, many_out, ["custom"], cfg, "local")
    assert ok.passed and ok.value == 1
    assert not bad.passed and bad.value == 20 and [e["row"] for e in bad.examples] == [180, 181, 182, 183, 184]
    assert bad.message.startswith("custom: 20 of 200 values outside the reference's observed support [0, 999] "
                                  "(chance allows 0.20%; binomial p=")
    assert "profile local: monitoring.support_pvalue_threshold" in bad.message
    assert "row 180 = 5000.0" in bad.message


def test_quality_messages_name_nulls_thresholds_and_the_manifest():
    cfg = MonitoringSettings()
    df = pd.DataFrame({"qv_ctr": [0.1, None, 0.3, None], "title": ["a", "b", "c", "d"]})
    checks = {c.name: c for c in check_quality(df, ["qv_ctr", "title", "duration_s"], cfg, domains={},
                                               profile="staging")}
    assert checks["row_count"].message == "4 rows < 50 (profile staging: monitoring.min_rows)"
    assert checks["required_columns"].message == "missing columns ['duration_s'], listed by the reference manifest"
    assert checks["null_share"].message == ("qv_ctr: 2 of 4 rows null (0.500 > 0.05), rows [1, 3] "
                                            "(profile staging: monitoring.max_null_share)")
    assert [c.passed for c in checks.values()] == [False, False, False]


def test_domain_without_bounds_admits_everything():
    dom = Domain("x")
    assert dom.rule() == "any value" and dom.admits(pd.Series([-1e9, 0.0, 1e9])).all()
