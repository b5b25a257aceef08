"""The ranker's impression log rotates: only closed files are `.jsonl`, a killed writer's half line never is."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from components.inference.impressions import ImpressionLog, seal

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def names(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_file_closes_when_it_is_old_enough_and_only_closed_files_end_in_jsonl(tmp_path):
    clock = Clock()
    log = ImpressionLog(tmp_path, rotate_s=60, rotate_bytes=1 << 20, clock=clock)
    log.write({"request_id": "a"})
    clock.now += 30
    log.write({"request_id": "b"})
    assert log.rotate_due() == []  # 30 s old: still open
    assert names(tmp_path) == ["impressions-20261130T120000000000Z.jsonl.open"]
    clock.now += 30
    [closed] = log.rotate_due()  # 60 s old: closed even though no request came
    assert closed.name == "impressions-20261130T120000000000Z.jsonl"
    assert [json.loads(x)["request_id"] for x in closed.read_text().splitlines()] == ["a", "b"]
    clock.now += 1
    log.write({"request_id": "c"})
    assert names(tmp_path) == ["impressions-20261130T120000000000Z.jsonl",
                               "impressions-20261130T120101000000Z.jsonl.open"]
    log.close()
    assert names(tmp_path) == ["impressions-20261130T120000000000Z.jsonl", "impressions-20261130T120101000000Z.jsonl"]


def test_a_file_closes_before_the_write_that_would_pass_its_size(tmp_path):
    clock = Clock()
    line = '{"request_id":"r0"}\n'  # 20 bytes
    log = ImpressionLog(tmp_path, rotate_s=3600, rotate_bytes=40, clock=clock)
    for i in range(5):
        clock.now += 0.001  # each file's name is its opening time
        log.write({"request_id": f"r{i}"})
    log.close()
    files = sorted(tmp_path.glob("impressions-*.jsonl"))
    assert [f.read_text().count("\n") for f in files] == [2, 2, 1]
    assert files[0].read_text() == line + line.replace("r0", "r1")
    assert names(tmp_path) == [f.name for f in files]  # nothing open, nothing else


def test_kinds_rotate_separately(tmp_path):
    log = ImpressionLog(tmp_path, clock=Clock())
    log.write({"request_id": "a"})
    log.write({"request_id": "a", "challenger_scores": [1.0]}, kind="shadow")
    log.close()
    assert names(tmp_path) == ["impressions-20261130T120000000000Z.jsonl", "shadow-20261130T120000000000Z.jsonl"]


def test_seal_cuts_a_half_written_last_line_into_a_fragment(tmp_path):
    open_file = tmp_path / "impressions-x.jsonl.open"
    open_file.write_bytes(b'{"request_id":"a"}\n{"request_id":"b"}\n{"request_id":"c", "ts')
    closed = seal(open_file)
    assert closed.read_bytes() == b'{"request_id":"a"}\n{"request_id":"b"}\n'
    assert (tmp_path / "impressions-x.jsonl.fragment").read_bytes() == b'{"request_id":"c", "ts'
    assert names(tmp_path) == ["impressions-x.jsonl", "impressions-x.jsonl.fragment"]


def test_seal_of_a_file_without_a_whole_line_leaves_no_empty_jsonl(tmp_path):
    open_file = tmp_path / "impressions-y.jsonl.open"
    open_file.write_bytes(b'{"request_id":"a", "t')
    seal(open_file)
    assert names(tmp_path) == ["impressions-y.jsonl.fragment"]


def test_a_restart_closes_what_a_killed_process_left_open_and_leaves_a_live_ones_file(tmp_path):
    dead = tmp_path / "impressions-20261130T100000000000Z.jsonl.open"
    dead.write_text('{"request_id":"old"}\n{"req')
    os.utime(dead, (T0 - 3600, T0 - 3600))  # untouched for stale_s
    live = tmp_path / "impressions-20261130T115959000000Z.jsonl.open"
    live.write_text('{"request_id":"other server"}\n')
    os.utime(live, (T0 - 1, T0 - 1))
    log = ImpressionLog(tmp_path, stale_s=3600, clock=Clock())
    log.write({"request_id": "new"})
    assert names(tmp_path) == ["impressions-20261130T100000000000Z.jsonl",
                               "impressions-20261130T100000000000Z.jsonl.fragment",
                               "impressions-20261130T115959000000Z.jsonl.open",
                               "impressions-20261130T120000000000Z.jsonl.open"]
    assert (tmp_path / "impressions-20261130T100000000000Z.jsonl").read_text() == '{"request_id":"old"}\n'
    log.close()


def test_a_file_the_collector_closed_under_a_stalled_writer_is_not_an_error(tmp_path):
    log = ImpressionLog(tmp_path, clock=Clock())
    log.write({"request_id": "a"})
    [open_file] = tmp_path.glob("*.open")
    seal(open_file)  # what the collector does to a file untouched for stale_s
    log.write({"request_id": "b"}, kind="shadow")
    log.close()
    assert names(tmp_path) == ["impressions-20261130T120000000000Z.jsonl", "shadow-20261130T120000000000Z.jsonl"]


def test_two_files_opened_in_the_same_microsecond_get_distinct_names(tmp_path):
    log = ImpressionLog(tmp_path, rotate_bytes=1, clock=Clock())  # every line closes the file before the next
    for i in range(3):
        log.write({"request_id": f"r{i}"})
    log.close()
    assert names(tmp_path) == ["impressions-20261130T120000000000Z-1.jsonl",
                               "impressions-20261130T120000000000Z-2.jsonl",
                               "impressions-20261130T120000000000Z.jsonl"]


def test_stale_limit_must_exceed_the_rotation(tmp_path):
    from components.common.config import ConfigError, load_settings

    with pytest.raises(ConfigError, match="impression_stale_s must exceed impression_rotate_s by more than 30 s"):
        load_settings("local", environ={"RANKOPS_HOME": str(tmp_path), "RANKOPS_SERVING__IMPRESSION_ROTATE_S": "600",
                                        "RANKOPS_SERVING__IMPRESSION_STALE_S": "600"})
