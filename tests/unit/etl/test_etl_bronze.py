"""Bronze: file discovery (batches, hashes, file-level problems) and line-exact ingest."""

import hashlib
import os
from datetime import datetime

import pytest

from components.etl.bronze import batch_id_of, discover_files, read_lines, to_bronze, whole_file_partitions


@pytest.fixture
def raw_dir(tmp_path):
    root = tmp_path / "raw"
    (root / "2026-01-01" / "search_log").mkdir(parents=True)
    (root / "2026-01-01" / "judgements").mkdir(parents=True)
    (root / "videos").mkdir(parents=True)
    (root / "2026-01-01" / "search_log" / "a.jsonl").write_bytes(b'{"a": 1}\n\n{"b": "\xff"}\n[1]')
    (root / "2026-01-01" / "search_log" / "empty.jsonl").write_bytes(b"")
    (root / "2026-01-01" / "search_log" / "notes.txt").write_text("x")
    (root / "2026-01-01" / "judgements" / "j.csv").write_bytes(b"\xef\xbb\xbfquery,video_url\r\nrock,x\r\njazz,y\r\n")
    (root / "videos" / "v.jsonl").write_text('{"video_url": "x"}\n')
    (root / "_generator.json").write_text("{}")
    return root


def test_discover_files_finds_kinds_batches_hashes_and_problems(raw_dir):
    files, problems = discover_files(raw_dir)
    got = [(f.kind, f.source_file, f.batch_id, f.size, f.header) for f in files]
    v_sha = hashlib.sha256(b'{"video_url": "x"}\n').hexdigest()
    assert got == [
        ("search_log", "2026-01-01/search_log/a.jsonl", "2026-01-01", 24, None),
        ("videos", "videos/v.jsonl", f"file-{v_sha[:12]}", 19, None),
        ("judgements", "2026-01-01/judgements/j.csv", "2026-01-01", 36, "\ufeffquery,video_url"),
    ]
    assert files[1].sha256 == v_sha
    assert [(p.path, p.problem) for p in problems] == [
        ("2026-01-01/search_log/empty.jsonl", "empty file (0 bytes): nothing to ingest"),
        ("2026-01-01/search_log/notes.txt", "ignored: a search_log file must end with .jsonl"),
    ]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file_is_a_problem_not_a_crash(raw_dir):
    path = raw_dir / "videos" / "v.jsonl"
    path.chmod(0)
    try:
        files, problems = discover_files(raw_dir)
    finally:
        path.chmod(0o644)
    assert [f.kind for f in files] == ["search_log", "judgements"]
    assert [(p.path, p.problem.split(":")[0]) for p in problems][0] == ("videos/v.jsonl", "unreadable")


def test_missing_input_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        discover_files(tmp_path / "nope")


def test_batch_id_is_the_folder_above_the_kind():
    assert batch_id_of(("2026-01-01", "search_log", "p.jsonl"), "ab" * 32) == "2026-01-01"
    assert batch_id_of(("drop", "7", "videos", "p.jsonl"), "ab" * 32) == "drop/7"
    assert batch_id_of(("videos", "p.jsonl"), "ab" * 32) == "file-abababababab"


def test_bronze_keeps_every_line_as_bytes_with_its_number(spark, raw_dir):
    files, _ = discover_files(raw_dir)
    with whole_file_partitions(spark, files):
        rows = to_bronze(read_lines(spark, files), datetime(2026, 1, 5)).orderBy("kind", "line_number").collect()
    got = [(r.kind, r.line_number, bytes(r.raw), r.is_header) for r in rows]
    assert got == [
        ("judgements", 1, b"query,video_url", True),  # the reader drops the file's UTF-8 BOM; CRLF split
        ("judgements", 2, b"rock,x", False),
        ("judgements", 3, b"jazz,y", False),
        ("search_log", 1, b'{"a": 1}', False),
        ("search_log", 2, b"", False),  # an empty line is a row too (silver quarantines it)
        ("search_log", 3, b'{"b": "\xff"}', False),  # invalid UTF-8 kept byte for byte
        ("search_log", 4, b"[1]", False),
        ("videos", 1, b'{"video_url": "x"}', False),
    ]
    assert {r.file_sha256 for r in rows if r.kind == "videos"} == {files[1].sha256}
    assert {r.ingested_at for r in rows} == {datetime(2026, 1, 5)}
