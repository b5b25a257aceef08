"""Pin and history texts: only MODEL_VERSION changes, history only grows."""

from __future__ import annotations

import json

import pytest

from components.promotion.records import (
    HistoryCorrupt,
    append_entry,
    decided,
    parse_history,
    previous_champion,
    read_pin,
    set_pin,
)


def test_set_pin_changes_only_the_version_line():
    text = "# pinned by promotion\nMODEL_NAME=rankops-ranker\nMODEL_VERSION=3\nEXTRA=x\n"
    assert set_pin(text, "4") == "# pinned by promotion\nMODEL_NAME=rankops-ranker\nMODEL_VERSION=4\nEXTRA=x\n"
    assert read_pin(set_pin(text, "4")) == "4"
    assert set_pin("", "1", "rankops-ranker") == "MODEL_NAME=rankops-ranker\nMODEL_VERSION=1\n"
    assert read_pin("MODEL_NAME=a\n") is None


def test_history_appends_with_sequence_and_finds_previous_champion():
    text = append_entry(None, {"action": "approve", "from_version": None, "to_version": "1", "request_id": "r1"})
    text = append_entry(text, {"action": "reject", "from_version": "1", "to_version": "3", "request_id": "r3"})
    text2 = append_entry(text, {"action": "approve", "from_version": "1", "to_version": "2", "request_id": "r2"})
    assert text2.startswith(text)
    entries = parse_history(text2)
    assert [e["seq"] for e in entries] == [1, 2, 3]
    assert json.loads(text2.splitlines()[2]) == {"seq": 3, "action": "approve", "from_version": "1",
                                                 "to_version": "2", "request_id": "r2"}
    assert previous_champion(entries, "2") == "1"
    assert previous_champion(entries, "1") is None
    assert decided(entries, "r3")["action"] == "reject" and decided(entries, "rX") is None


def test_corrupt_history_names_the_line():
    with pytest.raises(HistoryCorrupt, match=r"history.jsonl:2: not JSON"):
        parse_history('{"seq": 1}\n{oops\n', "history.jsonl")
