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
    assert [(p.path, p.problem, p.defect) for p in problems] == [
        ("2026-01-01/search_log/empty.jsonl", "ignored: empty file (0 bytes): nothing to ingest", "empty"),
        ("2026-01-01/search_log/notes.txt", "ignored: a search_log file must end with .jsonl", "wrong_extension"),
    ]


def test_files_the_contract_does_not_take_are_listed_as_ignored_never_read(tmp_path):
    """Compressed, UTF-16/32, NUL-filled, misplaced or misnamed files: each named with its reason."""
    import gzip

    line = '{"video_url": "https://vidhub.example/v/1"}\n'
    files = {
        "d/search_log/a.jsonl.gz": gzip.compress(line.encode()),
        "d/search_log/b.jsonl": gzip.compress(line.encode()),  # gzip under a contract name
        "d/videos/c.jsonl": "\ufeff".encode("utf-16-le").join([b"", line.encode("utf-16-le")]),
        "d/videos/d.jsonl": line.encode("utf-16-be"),  # no byte-order mark: NUL bytes give it away
        "d/videos/e.jsonl": "\ufeff".encode("utf-32-le") + line.encode("utf-32-le"),
        "d/videos/f.json": line.encode(),
        "d/judgements/g.tsv": b"query\tvideo_url\n",
        "d/videos/sub/h.jsonl": line.encode(),  # not directly inside the kind folder
        "d/search_log.jsonl": line.encode(),
        "notes.txt": b"x",
        "d/videos/ok.jsonl": ("\ufeff" + line).encode() + b'{"title": "caf\xe9"}\n',  # UTF-8 BOM, a Latin-1 line
        "_generator.json": b"{}", "d/videos/.ok.jsonl.crc": b"x", "d/_tmp/search_log/x.jsonl": line.encode(),
    }
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    found, problems = discover_files(tmp_path)
    assert [f.source_file for f in found] == ["d/videos/ok.jsonl"]  # its Latin-1 line is silver's business
    assert [(p.path, p.defect, p.ignored) for p in problems] == [
        ("d/judgements/g.tsv", "wrong_extension", True),
        ("d/search_log/a.jsonl.gz", "compressed", True),
        ("d/search_log/b.jsonl", "compressed", True),
        ("d/search_log.jsonl", "outside_kind_folder", True),
        ("d/videos/c.jsonl", "not_utf8_text", True),
        ("d/videos/d.jsonl", "not_utf8_text", True),
        ("d/videos/e.jsonl", "not_utf8_text", True),
        ("d/videos/f.json", "wrong_extension", True),
        ("d/videos/sub/h.jsonl", "outside_kind_folder", True),
        ("notes.txt", "outside_kind_folder", True),
    ]
    problem = {p.path: p.problem for p in problems}
    assert problem["d/search_log/b.jsonl"] == "ignored: gzip-compressed content: decompress it to plain UTF-8 text"
    assert problem["d/videos/c.jsonl"] == "ignored: UTF-16 text (byte-order mark): re-encode it as UTF-8"
    assert problem["d/videos/e.jsonl"] == "ignored: UTF-32 text (byte-order mark): re-encode it as UTF-8"
    assert problem["d/search_log/a.jsonl.gz"] == "ignored: compressed (.gz): decompress it to a plain .jsonl file"


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
