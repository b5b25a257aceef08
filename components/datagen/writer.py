"""Streaming writer of one raw file that injects dirty rows and keeps an exact ledger.

Rows go to disk as they come (memory is bounded by a handful of pending lines). After each clean
row a private random stream decides whether to also write an exact duplicate of it, or a dirty
row derived from it with the next defect class of the kind's cycle (``dirty.CYCLES``). Extra lines
are written a few rows later, so duplicates are not always adjacent. Because the dirt has its own
random stream, the clean rows of a data set do not depend on `dirty_share`.

Conflicting duplicates: the derived row repeats the clean row's ``event_id`` with different
content. BOTH rows of such an ``event_id`` are counted under ``conflicting_duplicate`` (2 per pair)
and the clean one no longer counts as valid; exact duplicates are counted once per extra copy.
"""

from __future__ import annotations

import csv
import io
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

from components.common.contract import FileDefect, Kind
from components.datagen.dirty import CYCLES, REASON_OF, corrupt_csv, corrupt_json

BOM = "\ufeff".encode()


def encode(text: str) -> bytes:
    """UTF-8, with lone surrogates turned back into the raw (invalid) bytes they stand for."""
    return text.encode("utf-8", "surrogateescape")


def csv_line(fields: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(fields)
    return buf.getvalue()


class RawFileWriter:
    """One raw file (JSONL or CSV) with dirty-row injection and exact accounting."""

    def __init__(
        self,
        path: Path,
        kind: Kind,
        *,
        dirty_share: float,
        dirt_seed: str,
        header: list[str] | None = None,
        bom: bool = False,
        crlf: bool = False,
        cycle_start: int = 0,
    ):
        self.path = path
        self.kind = kind
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("wb", buffering=1 << 20)
        self._newline = b"\r\n" if crlf else b"\n"
        self._rng = random.Random(f"rankops-dirt:{dirt_seed}")
        share = min(max(dirty_share, 0.0), 0.5)
        self._p_dirty = share / (1 - share)  # dirty lines ~ `share` of all lines
        self._p_dup = share / 2
        self._cycle = CYCLES[kind]
        self._next = cycle_start  # files of one kind continue one cycle: a data set covers every class
        self._long_written = False
        self._pending: list[tuple[int, bytes]] = []
        self.clean = 0
        self.lines = 0
        self.duplicates = 0
        self.conflicting_pairs = 0
        self.reasons: Counter[str] = Counter()
        self.defects: Counter[str] = Counter()
        self.bom, self.crlf = bom, crlf
        if header is not None:
            self._file.write((BOM if bom else b"") + csv_line(header).encode() + self._newline)

    def _emit(self, line: bytes) -> None:
        self._file.write(line)
        self._file.write(self._newline)
        self.lines += 1

    def _next_defect(self) -> str:
        while True:
            defect = self._cycle[self._next % len(self._cycle)]
            self._next += 1
            if defect == "field_too_long":
                if self._long_written:
                    continue
                self._long_written = True
            return defect

    def _schedule(self, line: bytes) -> None:
        self._pending.append((self.clean + self._rng.randint(0, 4), line))

    def write(self, row: dict[str, Any] | list[str], text: str | None = None) -> None:
        """Write one clean row (a dict for JSONL, a list of fields for CSV) and maybe a dirty one.

        `text` is the row already rendered (the hot path renders JSON itself, ~3x faster).
        """
        is_csv = isinstance(row, list)
        if text is None:
            text = csv_line(row) if is_csv else json.dumps(row, ensure_ascii=False)
        line = encode(text)
        self._emit(line)
        self.clean += 1
        if self._pending:
            due = [p for p in self._pending if p[0] <= self.clean]
            if due:
                self._pending = [p for p in self._pending if p[0] > self.clean]
                for _, pending in due:
                    self._emit(pending)
        r = self._rng.random()
        if r < self._p_dup:
            self.duplicates += 1
            self.defects["exact_duplicate"] += 1
            self._schedule(line)
        elif r < self._p_dup + self._p_dirty:
            self._schedule(self._dirty_line(row, is_csv))

    def _dirty_line(self, row: dict[str, Any] | list[str], is_csv: bool) -> bytes:
        defect = self._next_defect()
        self.defects[defect] += 1
        reason = REASON_OF[defect]
        if defect == "conflicting_duplicate":
            self.conflicting_pairs += 1
            self.reasons[reason.value] += 2
            return encode(json.dumps(conflicting_version(self._rng, row), ensure_ascii=False))
        self.reasons[reason.value] += 1
        if is_csv:
            fields = corrupt_csv(self._rng, list(row), defect)
            return encode(fields if isinstance(fields, str) else csv_line(fields))
        derived = dict(row)
        if self.kind is Kind.SEARCH_LOG:
            derived["event_id"] = f"{row['event_id']}x"  # its own id: only the injected defect is wrong
        else:
            derived["video_url"] = row["video_url"].replace("v=", "v=zz", 1).replace("/v/", "/v/zz", 1)
        return encode(corrupt_json(self._rng, self.kind, derived, defect))

    @property
    def cycle_position(self) -> int:
        """Where the next file of this kind continues the defect cycle."""
        return self._next

    @property
    def valid(self) -> int:
        """Rows the ETL must keep: clean rows less the first row of each conflicting pair."""
        return self.clean - self.conflicting_pairs

    def close(self) -> dict[str, Any]:
        """Flush the pending lines, close, and return this file's ledger."""
        for _, line in sorted(self._pending, key=lambda p: p[0]):
            self._emit(line)
        self._pending = []
        self._file.close()
        return {
            "kind": self.kind.value,
            "lines": self.lines,
            "valid": self.valid,
            "duplicates": self.duplicates,
            "quarantined": dict(sorted(self.reasons.items())),
            "defects": dict(sorted(self.defects.items())),
            "conflicting_pairs": self.conflicting_pairs,
            "header": self.kind is Kind.JUDGEMENTS,
            "bom": self.bom,
            "crlf": self.crlf,
        }


def conflicting_version(rng: random.Random, row: dict[str, Any]) -> dict[str, Any]:
    """The same event_id with different, otherwise valid content (a re-sent, edited event)."""
    other = dict(row)
    if row["clicked"]:
        other["dwell_ms"] = (row["dwell_ms"] or 0) + rng.randint(1, 5000)
    elif rng.random() < 0.5:
        other["position"] = row["position"] + rng.randint(1, 3)
    else:
        other["clicked"] = True
        other["dwell_ms"] = rng.randint(500, 60000)
    return other


def write_ignored_files(day_dir: Path, sample: bytes) -> dict[str, str]:
    """One file of each kind the contract ignores (``contract.FileDefect``), holding `sample` lines
    in that wrong form; returns {path relative to day_dir's parent: defect}. An unreadable file is
    not written: its permissions would not survive copying the data set."""
    import gzip

    files = {
        "search_log/part-00001.jsonl.gz": (FileDefect.COMPRESSED, gzip.compress(sample, mtime=0)),
        "search_log/part-00002.jsonl": (FileDefect.COMPRESSED, gzip.compress(sample, mtime=0)),
        "videos/part-00001.jsonl": (FileDefect.NOT_UTF8_TEXT, sample.decode("utf-8", "replace").encode("utf-16")),
        "videos/part-00002.json": (FileDefect.WRONG_EXTENSION, sample),
        "judgements/part-00001.csv": (FileDefect.EMPTY, b""),
        "search_log.jsonl": (FileDefect.OUTSIDE_KIND_FOLDER, sample),
    }
    out = {}
    for rel, (defect, data) in files.items():
        path = day_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        out[(path.relative_to(day_dir.parent)).as_posix()] = defect.value
    return out
