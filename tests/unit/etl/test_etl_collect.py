"""The collector lands closed impression files once, leaves open ones to their writers, closes a dead
replica's stale file without its half line, and never overwrites (real files in a temp dir)."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from components.etl.collect import CollectError, collect_impressions, move_once
from pipelines.cli import build_app

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()


def put(path, text: str, age_s: float = 0.0):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (NOW - age_s, NOW - age_s))
    return path


def tree(root) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def spool(tmp_path):
    s = tmp_path / "spool"
    put(s / "ranker-a" / "impressions-20261130T100000000000Z.jsonl", '{"request_id":"a1"}\n{"request_id":"a2"}\n')
    put(s / "ranker-a" / "impressions-20261130T110000000000Z.jsonl.open", '{"request_id":"a3"}\n', age_s=5)
    put(s / "ranker-a" / "shadow-20261130T100000000000Z.jsonl", '{"request_id":"a1"}\n')
    put(s / "ranker-b" / "impressions-20261130T090000000000Z.jsonl.open", '{"request_id":"b1"}\n{"requ',
        age_s=7200)  # its replica died two hours ago
    put(s / "impressions-20261130T080000000000Z.jsonl", '{"request_id":"l1"}\n')  # a local single server
    return s


def test_closed_files_land_once_under_the_batch_open_ones_stay(spool, tmp_path):
    landing = tmp_path / "landing"
    result = collect_impressions(spool, landing, stale_s=3600, batch="b1", now=NOW)
    assert tree(landing) == {
        "b1/impressions/impressions-20261130T080000000000Z.jsonl": '{"request_id":"l1"}\n',
        "b1/impressions/impressions-ranker-a--20261130T100000000000Z.jsonl":
            '{"request_id":"a1"}\n{"request_id":"a2"}\n',
        "b1/impressions/impressions-ranker-b--20261130T090000000000Z.jsonl": '{"request_id":"b1"}\n',
    }
    assert tree(spool) == {  # the live replica's open file and the shadow scores stay; the dead one's half line too
        "ranker-a/impressions-20261130T110000000000Z.jsonl.open": '{"request_id":"a3"}\n',
        "ranker-a/shadow-20261130T100000000000Z.jsonl": '{"request_id":"a1"}\n',
        "ranker-b/impressions-20261130T090000000000Z.jsonl.fragment": '{"requ',
    }
    assert (result["lines"], result["open"], result["already_landed"]) == (4, 1, [])
    assert result["sealed"] == ["ranker-b/impressions-20261130T090000000000Z.jsonl.open"]
    assert result["fragments"] == ["ranker-b/impressions-20261130T090000000000Z.jsonl.fragment"]
    again = collect_impressions(spool, landing, stale_s=3600, batch="b1", now=NOW)
    assert (again["moved"], again["lines"], again["open"]) == ([], 0, 1)


def test_default_batch_is_the_utc_date_and_a_missing_spool_is_nothing(tmp_path):
    put(tmp_path / "spool" / "impressions-1.jsonl", "{}\n")
    result = collect_impressions(tmp_path / "spool", tmp_path / "landing", stale_s=3600, now=NOW)
    assert result["moved"] == ["ranker-2026-11-30/impressions/impressions-1.jsonl"]
    none = collect_impressions(tmp_path / "absent", tmp_path / "landing", stale_s=3600, now=NOW)
    assert (none["moved"], none["lines"]) == ([], 0)


def test_a_crash_between_landing_and_unlinking_is_finished_by_the_next_run(tmp_path):
    src = put(tmp_path / "spool" / "impressions-1.jsonl", '{"request_id":"x"}\n')
    dest = put(tmp_path / "landing" / "b" / "impressions" / "impressions-1.jsonl", '{"request_id":"x"}\n')
    assert move_once(src, dest) is False
    assert not src.exists() and dest.read_text() == '{"request_id":"x"}\n'


def test_other_content_under_the_same_name_is_never_overwritten(tmp_path):
    src = put(tmp_path / "spool" / "impressions-1.jsonl", '{"request_id":"x"}\n')
    dest = put(tmp_path / "landing" / "b" / "impressions" / "impressions-1.jsonl", '{"request_id":"y"}\n')
    with pytest.raises(CollectError, match=f"{dest} exists with other content than {src}"):
        move_once(src, dest)
    assert src.read_text() == '{"request_id":"x"}\n' and dest.read_text() == '{"request_id":"y"}\n'


def test_cli_collects_from_the_configured_spool(rankops_home, tmp_path):
    from typer.testing import CliRunner

    home = rankops_home
    put(home / "serving" / "impressions" / "r1" / "impressions-1.jsonl", "{}\n{}\n")
    result = CliRunner().invoke(build_app(), ["etl", "collect-impressions", "--landing", str(tmp_path / "in"),
                                      "--batch", "day1"])
    assert result.exit_code == 0, result.output
    assert "1 file(s), 2 line(s) moved" in " ".join(result.output.split())
    assert tree(tmp_path / "in") == {"day1/impressions/impressions-r1--1.jsonl": "{}\n{}\n"}


def test_shadow_files_older_than_the_keep_time_are_deleted_and_a_dead_replicas_is_closed(tmp_path):
    day = 86400
    spool = tmp_path / "spool"
    put(spool / "r1" / "shadow-old.jsonl", '{"request_id":"o"}\n', age_s=31 * day)
    put(spool / "r1" / "shadow-old.jsonl.fragment", '{"req', age_s=31 * day)
    put(spool / "r1" / "shadow-recent.jsonl", '{"request_id":"r"}\n', age_s=29 * day)
    put(spool / "r2" / "shadow-dead.jsonl.open", '{"request_id":"d"}\n{"re', age_s=2 * 3600)  # replica gone
    put(spool / "r2" / "shadow-live.jsonl.open", '{"request_id":"l"}\n', age_s=60)
    put(spool / "r2" / "impressions-old.jsonl", '{"request_id":"i"}\n', age_s=40 * day)  # collected, not pruned
    result = collect_impressions(spool, tmp_path / "landing", stale_s=3600, batch="b", shadow_keep_s=30 * day,
                                 now=NOW)
    assert result["pruned_shadow"] == ["r1/shadow-old.jsonl", "r1/shadow-old.jsonl.fragment"]
    assert result["sealed"] == ["r2/shadow-dead.jsonl.open"]
    assert result["open"] == 0  # open counts the impression files left to their writers
    assert tree(spool) == {"r1/shadow-recent.jsonl": '{"request_id":"r"}\n',
                           "r2/shadow-dead.jsonl": '{"request_id":"d"}\n', "r2/shadow-dead.jsonl.fragment": '{"re',
                           "r2/shadow-live.jsonl.open": '{"request_id":"l"}\n'}
    assert tree(tmp_path / "landing") == {"b/impressions/impressions-r2--old.jsonl": '{"request_id":"i"}\n'}


def test_without_a_keep_time_shadow_files_are_left_alone(tmp_path):
    put(tmp_path / "spool" / "shadow-old.jsonl", "{}\n", age_s=400 * 86400)
    put(tmp_path / "spool" / "shadow-dead.jsonl.open", "{}\n", age_s=7200)
    result = collect_impressions(tmp_path / "spool", tmp_path / "landing", stale_s=3600, now=NOW)
    assert (result["pruned_shadow"], result["sealed"]) == ([], [])
    assert set(tree(tmp_path / "spool")) == {"shadow-old.jsonl", "shadow-dead.jsonl.open"}


def test_the_keep_time_must_outlast_the_stale_time(tmp_path):
    from components.common.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="shadow_keep_s must exceed impression_stale_s"):
        load_settings("local", environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_SERVING__SHADOW_KEEP_S": "3600"})
